//! What the engine-bound tests and the deploy bench (which includes this file by path) both
//! need to keep a deployment to themselves.

/// A harbor.yml with the data volume and the log directory moved below `work`, so that a
/// deployment touches nothing of the machine.
pub fn confined(config: &str, work: &std::path::Path) -> String {
    config
        .replace(
            "data_volume: /data\n",
            &format!("data_volume: {}/data\n", work.display()),
        )
        .replace(
            "    location: /var/log/harbor\n",
            &format!("    location: {}/log\n", work.display()),
        )
}

/// The compose file with every port published on all interfaces moved to 127.0.0.1 and
/// shifted by the offset, as `--publish-loopback --port-offset` do for `up`.
pub fn loopback(compose: &str, offset: u16) -> String {
    let mut moved = 0;
    let lines: Vec<String> = compose
        .lines()
        .map(|line| {
            let item = line.trim_start();
            let indent = &line[..line.len() - item.len()];
            let Some(value) = item.strip_prefix("- ") else {
                return line.to_string();
            };
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            let parts: Vec<&str> = value.split(':').collect();
            match parts.as_slice() {
                [h, c] if h.parse::<u16>().is_ok() && c.parse::<u16>().is_ok() => {
                    moved += 1;
                    let h: u16 = h.parse().unwrap();
                    format!("{indent}- \"127.0.0.1:{}:{c}\"", h + offset)
                }
                _ => line.to_string(),
            }
        })
        .collect();
    assert!(moved > 0, "no port of the compose file was moved");
    lines.join("\n") + "\n"
}
