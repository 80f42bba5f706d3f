//! Signing in: seeded accounts with Argon2 password hashes, sessions in private cookies (encrypted
//! and authenticated by `axum-extra`'s [`PrivateCookieJar`]), and an admin role.
//!
//! A session is the cookie [`SESSION_COOKIE`] (gone when the browser closes), holding the
//! account's name, its role and when the session ends ([`SESSION_LIFETIME`]); nobody without
//! the server's key can read, forge or alter it. Sessions are stateless: several servers given the same `--session-key` share them, and
//! signing out removes the cookie from the browser, but a copy of the cookie taken before stays
//! valid until it ends. An app that must revoke sessions keeps them on the server (for example
//! with `tower-sessions`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "tidings_session";

/// How long a session lasts after signing in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

/// Password checks running at once, at most: each costs Argon2's memory and tens of
/// milliseconds of CPU, so a flood of sign-ins is turned away rather than queued.
const CONCURRENT_CHECKS: usize = 2;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads its own notifications.
    User,
    /// Also writes the blog and sends notifications.
    Admin,
}

/// An account to seed, as given on the command line: `name:password` or `name:password:admin`.
#[derive(Clone)]
pub struct AccountSpec {
    /// The name to sign in with.
    pub name: String,
    password: String,
    /// Its role.
    pub role: Role,
}

impl AccountSpec {
    /// An account `name` with `password` and `role`.
    ///
    /// # Errors
    ///
    /// If the name is not 1 to 32 letters, digits, `-` or `_`, or the password is shorter
    /// than 8 characters.
    pub fn new(name: &str, password: &str, role: Role) -> Result<Self, String> {
        if !valid_name(name) {
            return Err(format!(
                "the user name `{name}` is not 1 to 32 letters, digits, - or _"
            ));
        }
        if password.chars().count() < 8 {
            return Err(format!(
                "the password of `{name}` is shorter than 8 characters"
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            password: password.to_owned(),
            role,
        })
    }

    /// Its password (to print the generated ones).
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl std::str::FromStr for AccountSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, rest) = text
            .split_once(':')
            .ok_or("an account is `name:password` or `name:password:admin`")?;
        let (password, role) = match rest.rsplit_once(':') {
            Some((password, "admin")) => (password, Role::Admin),
            Some((password, "user")) => (password, Role::User),
            _ => (rest, Role::User),
        };
        Self::new(name, password, role)
    }
}

/// Never shows the password.
impl fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSpec")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("role", &self.role)
            .finish()
    }
}

/// The key that encrypts session cookies, as given on the command line: 64 bytes in hex.
#[derive(Clone)]
pub struct SessionKey(Key);

impl std::str::FromStr for SessionKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bytes =
            decode_hex(text.trim()).ok_or("a session key is 128 hexadecimal digits (64 bytes)")?;
        if bytes.len() != 64 {
            return Err(format!(
                "a session key is 64 bytes (128 hexadecimal digits), not {}",
                bytes.len()
            ));
        }
        Ok(Self(Key::from(&bytes)))
    }
}

/// Never shows the key.
impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// The demo's accounts, and the key of their sessions. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    shared: Arc<Shared>,
}

struct Shared {
    accounts: HashMap<String, Account>,
    key: Key,
    /// Checked against when the name is unknown, so that a wrong name takes as long as a
    /// wrong password.
    decoy: String,
    checks: Semaphore,
    /// The accounts made up at start-up because none was given, with their passwords.
    generated: Vec<AccountSpec>,
}

struct Account {
    role: Role,
    /// The password's Argon2id hash, as a PHC string.
    hash: String,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.shared.accounts.keys().collect();
        names.sort();
        f.debug_struct("Accounts").field("names", &names).finish()
    }
}

impl Accounts {
    /// The accounts `specs`, their passwords hashed, with sessions under `key` (a random one
    /// when `None`: sessions then end when the server stops). With no account given, it makes
    /// up `alice` and `bob` (users) and `admin`, with random passwords: see
    /// [`Accounts::generated`].
    ///
    /// # Errors
    ///
    /// If the system has no randomness to give, or two accounts share a name.
    pub fn new(specs: &[AccountSpec], key: Option<&SessionKey>) -> Result<Self, String> {
        let generated = if specs.is_empty() {
            [
                ("alice", Role::User),
                ("bob", Role::User),
                ("admin", Role::Admin),
            ]
            .into_iter()
            .map(|(name, role)| AccountSpec::new(name, &random_password()?, role))
            .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        let mut accounts = HashMap::new();
        for spec in specs.iter().chain(&generated) {
            let account = Account {
                role: spec.role,
                hash: hash(&spec.password)?,
            };
            if accounts.insert(spec.name.clone(), account).is_some() {
                return Err(format!("two accounts are named `{}`", spec.name));
            }
        }
        let key = match key {
            Some(SessionKey(key)) => key.clone(),
            None => Key::try_generate().ok_or("no randomness for a session key")?,
        };
        Ok(Self {
            shared: Arc::new(Shared {
                accounts,
                key,
                decoy: hash(&random_password()?)?,
                checks: Semaphore::new(CONCURRENT_CHECKS),
                generated,
            }),
        })
    }

    /// The accounts made up because none was given, to show whoever started the server.
    #[must_use]
    pub fn generated(&self) -> &[AccountSpec] {
        &self.shared.generated
    }

    /// Whether `name` has an account.
    #[must_use]
    pub fn exists(&self, name: &str) -> bool {
        self.shared.accounts.contains_key(name)
    }

    /// The role of `name` if `password` is its password. `Err` with a response when too many
    /// checks run already.
    async fn check(&self, name: &str, password: String) -> Result<Option<Role>, Response> {
        let Ok(_permit) = self.shared.checks.try_acquire() else {
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, "1")],
                "too many sign-ins at once: try again in a second",
            )
                .into_response());
        };
        let account = self.shared.accounts.get(name);
        let (hash, role) = match account {
            Some(account) => (account.hash.clone(), Some(account.role)),
            None => (self.shared.decoy.clone(), None),
        };
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        Ok(role.filter(|_| matches))
    }
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Self {
        state.accounts.shared.key.clone()
    }
}

fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| format!("cannot hash a password: {error}"))
}

/// 16 random letters and digits (about 95 bits).
fn random_password() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| format!("no randomness: {error}"))?;
    Ok(bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect())
}

/// User names are short and plain, so that they are safe in a cookie and a log line.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /api/session` (sign in), `GET` (who is signed in) and `DELETE` (sign out).
pub fn routes() -> Router<AppState> {
    Router::new().route("/session", post(sign_in).get(whoami).delete(sign_out))
}

/// A signed-in account, from a valid session cookie; `401` without one.
#[derive(Debug, Clone, Serialize)]
pub struct SignedIn {
    /// Its name.
    pub user: String,
    /// Its role.
    pub role: Role,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = || {
            (
                StatusCode::UNAUTHORIZED,
                "sign in first (POST /api/session)",
            )
                .into_response()
        };
        let Ok(jar) = PrivateCookieJar::<Key>::from_request_parts(parts, state).await;
        let cookie = jar.get(SESSION_COOKIE).ok_or_else(unauthorized)?;
        let session = Session::decode(cookie.value()).ok_or_else(unauthorized)?;
        // The account must still exist with that role, and the session must not have ended.
        let current = state.accounts.shared.accounts.get(&session.user);
        if current.is_none_or(|account| account.role != session.role) || session.ends <= now_secs()
        {
            return Err(unauthorized());
        }
        Ok(Self {
            user: session.user,
            role: session.role,
        })
    }
}

/// A signed-in admin; `401` when signed out, `403` when signed in as a user.
#[derive(Debug, Clone)]
pub struct Admin(pub SignedIn);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.role != Role::Admin {
            return Err((StatusCode::FORBIDDEN, "only an admin may do this").into_response());
        }
        Ok(Self(signed_in))
    }
}

/// What the session cookie holds, encrypted: `name role ends`.
struct Session {
    user: String,
    role: Role,
    /// When it ends, in seconds since the Unix epoch.
    ends: u64,
}

impl Session {
    fn encode(&self) -> String {
        let role = match self.role {
            Role::User => "user",
            Role::Admin => "admin",
        };
        format!("{} {role} {}", self.user, self.ends)
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let user = parts.next().filter(|name| valid_name(name))?.to_owned();
        let role = match parts.next()? {
            "user" => Role::User,
            "admin" => Role::Admin,
            _ => return None,
        };
        let ends = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self { user, role, ends })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[derive(Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    jar: PrivateCookieJar,
    Json(credentials): Json<Credentials>,
) -> Response {
    let role = match state
        .accounts
        .check(&credentials.user, credentials.password)
        .await
    {
        Ok(Some(role)) => role,
        Ok(None) => {
            tracing::info!(
                user = credentials.user.get(..32).unwrap_or(&credentials.user),
                "failed sign-in"
            );
            return (StatusCode::UNAUTHORIZED, "wrong user name or password").into_response();
        }
        Err(busy) => return busy,
    };
    let session = Session {
        user: credentials.user,
        role,
        ends: now_secs() + SESSION_LIFETIME.as_secs(),
    };
    let cookie = Cookie::build((SESSION_COOKIE, session.encode()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies);
    let signed_in = SignedIn {
        user: session.user,
        role,
    };
    (jar.add(cookie), Json(signed_in)).into_response()
}

async fn whoami(signed_in: SignedIn) -> Json<SignedIn> {
    Json(signed_in)
}

async fn sign_out(jar: PrivateCookieJar) -> Response {
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    (jar, StatusCode::NO_CONTENT).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_parse_from_the_command_line() {
        let admin: AccountSpec = "root:correct-horse:admin".parse().expect("valid");
        assert_eq!((admin.name.as_str(), admin.role), ("root", Role::Admin));
        assert_eq!(admin.password(), "correct-horse");
        let user: AccountSpec = "ann:pass:word:42".parse().expect("valid");
        assert_eq!((user.password(), user.role), ("pass:word:42", Role::User));
        assert!("ann".parse::<AccountSpec>().is_err());
        assert!("ann:short".parse::<AccountSpec>().is_err());
        assert!("a b:long enough".parse::<AccountSpec>().is_err());
        assert!(!format!("{admin:?}").contains("correct-horse"));
    }

    #[test]
    fn session_keys_are_64_bytes_of_hex() {
        assert!("00".repeat(64).parse::<SessionKey>().is_ok());
        assert!("00".repeat(32).parse::<SessionKey>().is_err());
        assert!("zz".repeat(64).parse::<SessionKey>().is_err());
        let key: SessionKey = "ab".repeat(64).parse().expect("valid");
        assert!(!format!("{key:?}").contains("ab"));
    }

    #[test]
    fn sessions_round_trip_and_reject_junk() {
        let session = Session {
            user: "alice".into(),
            role: Role::Admin,
            ends: 42,
        };
        let decoded = Session::decode(&session.encode()).expect("decodes");
        assert_eq!(
            (decoded.user.as_str(), decoded.role, decoded.ends),
            ("alice", Role::Admin, 42)
        );
        for junk in [
            "",
            "alice",
            "alice root 1",
            "alice user x",
            "a;b user 1",
            "alice user 1 x",
        ] {
            assert!(Session::decode(junk).is_none(), "{junk}");
        }
    }
}
