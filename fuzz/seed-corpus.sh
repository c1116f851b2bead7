#!/bin/sh
# Rebuilds the seed corpus (fuzz/corpus/<target>/seed-*) from the shared test inputs.
# Run from anywhere; SHARED defaults to the shared/ directory beside the repository.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED:-$here/../../shared}
ref=$shared/reference/upstream-v2.15.2
corpus=$here/corpus

for target in parse_yaml validate render; do
    mkdir -p "$corpus/$target"
    for input in "$ref"/*/input.harbor.yml; do
        case_name=$(basename "$(dirname "$input")")
        cp "$input" "$corpus/$target/seed-ref-$case_name.yml"
    done
    for input in "$shared"/cases/*.yml; do
        cp "$input" "$corpus/$target/seed-case-$(basename "$input")"
    done
done

# envfile: single statements covering each rule, plus the env files upstream wrote
mkdir -p "$corpus/envfile"
i=0
while IFS= read -r line; do
    i=$((i + 1))
    printf '%s\n' "$line" > "$corpus/envfile/seed-line-$(printf %02d "$i")"
done <<'LINES'
KEY=value
export KEY="quoted $$ value\n" # comment
KEY='single $HOME \' quoted'
KEY: colon-form
A=1
B=${A:-default}x$A
C="${UNSET:+alt}${A?required}"
KEY=value with spaces  # trailing comment
EMPTY=
INHERITED
MULTI="line one
line two"
OCT="\0101\t\v\f"
K.e-y[0]=x
LINES
for env in "$ref"/a-http-default/config/*/env "$ref"/h-trivy-options/config/*/env; do
    component=$(basename "$(dirname "$env")")
    case_name=$(basename "$(dirname "$(dirname "$(dirname "$env")")")")
    cp "$env" "$corpus/envfile/seed-ref-$case_name-$component"
done

# yaml_str: values that need quoting and values that do not
mkdir -p "$corpus/yaml_str"
i=0
while IFS= read -r value; do
    i=$((i + 1))
    printf '%s' "$value" > "$corpus/yaml_str/seed-value-$(printf %02d "$i")"
done <<'VALUES'
/storage
harbor.example.test
yes
Off
0123
*Rd/pw: x #1
'single' "double" \back
- item
{flow: map}
é ü 😀
.inf
VALUES
printf 'tab\there\nnewline\r\001' > "$corpus/yaml_str/seed-value-controls"

# legacy_cfg: the stock harbor.cfg templates
mkdir -p "$corpus/legacy_cfg"
for cfg in "$shared"/reference/legacy/*.cfg; do
    cp "$cfg" "$corpus/legacy_cfg/seed-$(basename "$cfg" .cfg)"
done
