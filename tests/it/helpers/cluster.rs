//! Throwaway Postgres clusters of a test's own: a primary made by `initdb` (replication allowed)
//! and a streaming replica of it made by `pg_basebackup -R`, each on a free port with its data
//! in a temporary directory, stopped and removed when dropped. The server binaries come from
//! `pg_config --bindir` or Debian's `/usr/lib/postgresql/<version>/bin`; as root they run as
//! the `postgres` user (Postgres refuses to run as root).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// One running Postgres cluster.
pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
    stopped: bool,
}

fn bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("pg_ctl").exists() {
            return dir;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("pg_ctl").exists());
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    versions
        .pop()
        .expect("the Postgres server binaries (pg_ctl, initdb, pg_basebackup) are installed")
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a server binary (as `postgres` when we are root); panics with its output on failure.
fn run(program: &str, args: &[&str]) {
    if let Err(e) = try_run(program, args) {
        panic!("{e}");
    }
}

/// Runs a server binary (as `postgres` when we are root); its output when it fails.
fn try_run(program: &str, args: &[&str]) -> Result<(), String> {
    let bin = bindir().join(program);
    let out = if as_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&bin)
            .args(args)
            .output()
    } else {
        Command::new(&bin).args(args).output()
    }
    .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A local TCP port nothing listens on (now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory the `postgres` user owns (when we are root).
fn data_dir(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dojoql-{kind}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // Postgres refuses a data directory others may read.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    if as_root() {
        let ok = Command::new("chown")
            .args(["postgres:postgres", dir.to_str().unwrap()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown postgres {}", dir.display());
    }
    dir
}

/// Settings both clusters start with: local TCP only, the socket in the data directory, no
/// durability (a test's data does not outlive it).
fn write_config(dir: &Path, port: u16) {
    let conf = format!(
        "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
         fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
         max_wal_senders = 4\nwal_level = replica\nhot_standby = on\n\
         shared_buffers = 32MB\nmax_connections = 50\n",
        dir.display()
    );
    std::fs::write(dir.join("postgresql.conf"), conf).unwrap();
    std::fs::write(
        dir.join("pg_hba.conf"),
        "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
    )
    .unwrap();
}

impl Cluster {
    /// A new primary (`initdb`, superuser `postgres`, trust), started.
    pub fn primary() -> Cluster {
        let dir = data_dir("primary");
        let port = free_port();
        run(
            "initdb",
            &[
                "-D",
                dir.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        Cluster::configured(dir, port)
    }

    /// A streaming replica of `primary` (`pg_basebackup -R`), started.
    pub fn replica_of(primary: &Cluster) -> Cluster {
        let dir = data_dir("replica");
        let port = free_port();
        run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                dir.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
        );
        Cluster::configured(dir, port)
    }

    /// Writes the settings of a new cluster in `dir` and starts it on `port`.
    fn configured(dir: PathBuf, port: u16) -> Cluster {
        write_config(&dir, port);
        let mut c = Cluster {
            dir,
            port,
            stopped: true,
        };
        c.start();
        c
    }

    pub fn start(&mut self) {
        // Beside the data directory, so that a base backup does not copy it.
        let log = self.dir.with_extension("log");
        let started = try_run(
            "pg_ctl",
            &[
                "-D",
                self.dir.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if let Err(e) = started {
            panic!(
                "{e}\nserver log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        self.stopped = false;
    }

    /// Stops at once, as a crash or a lost machine would.
    pub fn stop_now(&mut self) {
        if !self.stopped {
            run(
                "pg_ctl",
                &[
                    "-D",
                    self.dir.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
            self.stopped = true;
        }
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.stop_now()));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("log"));
    }
}
