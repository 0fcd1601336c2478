//! `switchyard`: parses flags, binds, prints the address, and hands over to the library.

use clap::Parser;
use switchyard_host::config::{Cli, Command, LogFormat};
use switchyard_host::{Config, Switchyard, server};

// A fan-out allocates and frees a few small buffers per delivered frame, and glibc's malloc
// showed high in the server's profile: with mimalloc a delivery takes a quarter fewer
// instructions (callgrind), at the same memory per connection (bench/leads.md). On by default
// (the `mimalloc` feature). Only the binary sets the allocator: a program embedding the
// library chooses its own.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let format = match &cli.command {
        Command::Serve(a) => a.common.log_format,
        Command::Demo(a) => a.common.log_format,
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "switchyard_host=info,warn".into()),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let (config, note) = match cli.command {
        Command::Serve(args) => (args.into_config().map_err(|e| e.to_string()), None),
        Command::Demo(args) => match args.into_config() {
            Ok((config, secrets)) => {
                let note = demo_note(&config, &secrets.api_key);
                (Ok(config), Some(note))
            }
            Err(e) => (Err(e.to_string()), None),
        },
    };
    let config = match config {
        Ok(c) => c,
        Err(reason) => {
            eprintln!("switchyard: {reason}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchyard: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config, note)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config, note: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    // A cluster node joins before it says it listens: a refusal (Redis unreachable, node id
    // taken) ends the process without the line scripts wait for.
    let cluster = match config.redis_url {
        Some(_) => Some(Switchyard::connect(config.clone()).await?),
        None => None,
    };
    // Scripts and tests wait for exactly this line on stdout.
    println!("switchyard listening on http://{addr}");
    if let Some(note) = note {
        eprintln!("{}", note.replace("{addr}", &addr.to_string()));
    }
    match cluster {
        Some(hub) => server::serve(listener, hub, shutdown).await?,
        None => server::run(listener, config, shutdown).await?,
    }
    Ok(())
}

fn demo_note(config: &Config, api_key: &str) -> String {
    let page = config.demo.as_ref().map(|d| {
        (
            d.dir.display().to_string(),
            switchyard_host::demo::page_built(&d.dir),
        )
    });
    let mut s = String::from("\n  Switchyard demo: open http://{addr}/ in a browser\n");
    s.push_str(&format!("  API key: {api_key}\n"));
    s.push_str(
        "  e.g. curl -X POST http://{addr}/api/v1/announcements -H \"Authorization: Bearer ",
    );
    s.push_str(api_key);
    s.push_str(
        "\" -H 'Content-Type: application/json' -d '{\"type\":\"info\",\"message\":\"hello\"}'\n",
    );
    if !config.addr.ip().is_loopback() {
        s.push_str("  warning: demo mode serves the API without a key under /demo/api/v1 and hands out tokens\n");
        s.push_str("           to anyone who asks; it is listening beyond this machine. Use `serve` for real use.\n");
    }
    if let Some((dir, false)) = page {
        s.push_str(&format!(
            "  warning: no built page in {dir}; run scripts/demo or pass --demo-dir\n"
        ));
    }
    s
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// it is first polled, so a signal sent right after the "listening" line is not lost.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
