//! A local TLS certificate for `cargo xtask demo --tls` and the browser tests' HTTPS server:
//! self-signed, for `localhost`, `127.0.0.1` and `::1`, made once (rcgen) and kept in
//! `target/xtask/tls`. The test browsers accept it through WebDriver's `acceptInsecureCerts`
//! (`webdriver.json`); a browser of your own asks once, or takes `cert.pem` as trusted.

use std::path::{Path, PathBuf};

/// Where the certificate and its key are.
pub(crate) struct LocalCertificate {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// The local certificate, made if it is not there yet.
pub(crate) fn local_certificate(root: &Path) -> Result<LocalCertificate, String> {
    let dir = root.join("target/xtask/tls");
    let local = LocalCertificate {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if local.cert.is_file() && local.key.is_file() {
        return Ok(local);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let names = ["localhost", "127.0.0.1", "::1"]
        .map(str::to_owned)
        .to_vec();
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a local certificate: {e}"))?;
    std::fs::write(&local.key, made.signing_key.serialize_pem())
        .map_err(|e| format!("{}: {e}", local.key.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&local.key, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", local.key.display()))?;
    }
    std::fs::write(&local.cert, made.cert.pem())
        .map_err(|e| format!("{}: {e}", local.cert.display()))?;
    println!("  made a local certificate: {}", local.cert.display());
    Ok(local)
}
