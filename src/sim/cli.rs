//! `stagehand sim`: run the simulated tenant in the foreground until Ctrl-C.

use clap::Args;

use super::{Faults, SimOptions, start};

#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed for the fleet (same seed, same fleet).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Devices pre-seeded across every stage.
    #[arg(long, default_value_t = 40)]
    pub devices: usize,
    /// Sim seconds per real second (60: minutes become seconds).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Fault to inject, repeatable: latency=200ms, 5xx=0.05, drop=0.01, throttle-burst=20, token-ttl=60s.
    #[arg(long = "fault", value_name = "KEY=VALUE")]
    pub faults: Vec<String>,
    /// PEM certificate registered on the simulated app for certificate sign-in, repeatable.
    #[arg(long = "certificate", value_name = "PEM_FILE")]
    pub certificates: Vec<std::path::PathBuf>,
}

impl SimArgs {
    pub fn options(&self) -> anyhow::Result<SimOptions> {
        let mut faults = Faults::default();
        for f in &self.faults {
            faults.apply(f)?;
        }
        let mut certificates = Vec::new();
        for path in &self.certificates {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--certificate {}: {e}", path.display()))?;
            crate::sim::certs::parse_all(std::slice::from_ref(&pem))
                .map_err(|e| anyhow::anyhow!("--certificate {}: {e}", path.display()))?;
            certificates.push(pem);
        }
        Ok(SimOptions {
            port: self.port,
            certificates,
            seed: self.seed,
            devices: self.devices,
            speed: self.speed,
            faults,
            ..SimOptions::default()
        })
    }
}

/// `STAGEHAND_GRAPH_URL=… STAGEHAND_LOGIN_URL=… STAGEHAND_TENANT=… STAGEHAND_CLIENT_ID=…`, ready to
/// paste in front of `stagehand` (both URLs are roots, as in the config: Graph adds `/beta`).
pub fn env_line(sim: &super::SimHandle) -> String {
    let root = sim.base_url.as_str().trim_end_matches('/');
    format!(
        "STAGEHAND_GRAPH_URL={root} STAGEHAND_LOGIN_URL={root} STAGEHAND_TENANT={} STAGEHAND_CLIENT_ID={}",
        sim.tenant_id(),
        sim.client_id()
    )
}

/// `STAGEHAND_CLIENT_SECRET=…`: the simulated app's secret, for running headless as the app
/// (schedulers, CI) with no login step. The simulator's own, fake secret: printing it is the point.
pub fn app_secret_line(sim: &super::SimHandle) -> String {
    format!("STAGEHAND_CLIENT_SECRET={}", sim.client_secret().expose())
}

/// What `stagehand sim` prints: where it listens, the environment for stagehand, the app secret
/// line, and how to approve a `stagehand login`.
pub fn banner(sim: &super::SimHandle) -> String {
    let verify = sim.verification_url();
    format!(
        "stagehand sim listening on {base}\n\
         {env}\n\
         {secret}\n\
         # with the first line exported: `stagehand login` shows a code; approve it at {verify} \
         (one click, or `curl -d code=CODE {verify}`).\n\
         # Headless as the app (no login step): export the second line too.\n",
        base = sim.base_url,
        env = env_line(sim),
        secret = app_secret_line(sim),
    )
}

pub async fn run_cli(args: &SimArgs) -> anyhow::Result<()> {
    use std::io::Write as _;
    let sim = start(args.options()?).await?;
    let mut out = std::io::stdout().lock();
    out.write_all(banner(&sim).as_bytes())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn sim_subcommand_parses_repeatable_faults_and_reports_bad_ones() {
        let cli = Cli::try_parse_from([
            "stagehand",
            "sim",
            "--port",
            "0",
            "--seed",
            "3",
            "--speed",
            "60",
            "--fault",
            "latency=200ms",
            "--fault",
            "5xx=0.05",
        ])
        .unwrap();
        let Some(Command::Sim(args)) = cli.command else {
            panic!("expected the sim subcommand")
        };
        let opts = args.options().unwrap();
        assert_eq!((opts.seed, opts.speed), (3, 60.0));
        assert_eq!(opts.faults.latency, std::time::Duration::from_millis(200));
        assert_eq!(opts.faults.error_5xx_rate, 0.05);
        let cli = Cli::try_parse_from(["stagehand", "sim", "--fault", "drop=2"]).unwrap();
        let Some(Command::Sim(args)) = cli.command else {
            panic!("expected the sim subcommand")
        };
        let e = args.options().unwrap_err().to_string();
        assert!(e.contains("drop") && e.contains("outside"), "{e}");
    }

    #[test]
    fn certificates_are_read_from_files_and_bad_ones_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("app.pem");
        std::fs::write(
            &good,
            include_str!("../../tests/it/auth_support/test_cert.pem"),
        )
        .unwrap();
        let bad = dir.path().join("key-not-cert.pem");
        std::fs::write(&bad, include_str!("testdata/other_key.pem")).unwrap();
        let parse = |p: &std::path::Path| {
            let cli = Cli::try_parse_from([
                "stagehand".as_ref(),
                "sim".as_ref(),
                "--certificate".as_ref(),
                p.as_os_str(),
            ])
            .unwrap();
            let Some(Command::Sim(args)) = cli.command else {
                panic!("expected the sim subcommand")
            };
            args.options()
        };
        assert_eq!(parse(&good).unwrap().certificates.len(), 1);
        let e = parse(&bad).unwrap_err().to_string();
        assert!(
            e.contains("key-not-cert.pem") && e.contains("BEGIN CERTIFICATE"),
            "{e}"
        );
        assert!(!e.contains("PRIVATE"), "{e}");
        let e = parse(&dir.path().join("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.pem"), "{e}");
    }

    #[tokio::test]
    async fn env_line_points_at_the_loopback_roots() {
        let sim = crate::sim::start(crate::sim::SimOptions {
            devices: 0,
            ..Default::default()
        })
        .await
        .unwrap();
        let line = super::env_line(&sim);
        let root = sim.base_url.as_str().trim_end_matches('/');
        assert!(
            line.starts_with(&format!(
                "STAGEHAND_GRAPH_URL={root} STAGEHAND_LOGIN_URL={root} "
            )),
            "{line}"
        );
        assert!(root.starts_with("http://127.0.0.1:"));
        assert!(line.contains(&sim.tenant_id()) && line.contains(&sim.client_id()));
        let banner = super::banner(&sim);
        let lines: Vec<&str> = banner.lines().collect();
        assert_eq!(lines[1], line);
        assert_eq!(lines[2], "STAGEHAND_CLIENT_SECRET=sim-client-secret");
        assert!(
            banner.contains(&format!("curl -d code=CODE {root}/devicelogin")),
            "{banner}"
        );
    }
}
