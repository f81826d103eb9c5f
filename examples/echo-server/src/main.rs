//! A TCP echo server and a load loop that keeps it busy, watched live: run it with
//! `cargo run -p futurescope-example-echo` and open http://127.0.0.1:6680.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let _fs = futurescope::init();

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(load(addr));
    loop {
        let (socket, _) = listener.accept().await?;
        tokio::spawn(echo(socket));
    }
}

/// Echoes everything a connection sends until it closes.
async fn echo(mut socket: TcpStream) -> std::io::Result<()> {
    let mut buf = [0; 1024];
    loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        socket.write_all(&buf[..n]).await?;
    }
}

/// Opens a connection every 50 ms that sends a few lines, reads them back and closes.
async fn load(addr: std::net::SocketAddr) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        tokio::spawn(async move {
            let mut conn = TcpStream::connect(addr).await?;
            let mut buf = [0; 64];
            for line in 0..3u8 {
                conn.write_all(&[b'0' + line, b'\n']).await?;
                conn.read_exact(&mut buf[..2]).await?;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            std::io::Result::Ok(())
        });
    }
}
