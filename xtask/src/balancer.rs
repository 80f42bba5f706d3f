//! A small round-robin TCP balancer on loopback, for `cargo xtask demo --instances N`: each new
//! connection goes to the next backend that accepts it, so a stream that loses its server
//! reconnects through the balancer to another one.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Listens on `addr` and spreads connections over `backends`, in a thread of its own, for as
/// long as the process runs.
pub(crate) fn start(addr: SocketAddr, backends: Vec<SocketAddr>) -> Result<(), String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let next = Arc::new(AtomicUsize::new(0));
    println!("  balancer on {addr} over {} backends", backends.len());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let start = next.fetch_add(1, Ordering::Relaxed);
            let backend = (0..backends.len()).find_map(|offset| {
                let backend = backends[(start + offset) % backends.len()];
                TcpStream::connect_timeout(&backend, Duration::from_millis(300)).ok()
            });
            match backend {
                Some(server) => relay(client, server),
                // Every backend is down: the client sees its connection close.
                None => drop(client.shutdown(Shutdown::Both)),
            }
        }
    });
    Ok(())
}

/// Copies bytes both ways until either side closes.
fn relay(client: TcpStream, server: TcpStream) {
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    std::thread::spawn(move || pipe(client_reader, server));
    std::thread::spawn(move || pipe(server_reader, client));
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
