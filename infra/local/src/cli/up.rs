//! `handoff up`: the template's routes and state machine on 127.0.0.1.

use std::io::Write;

use clap::Args;
use handoff_embedded::encoder::{self, Availability};

use super::demo::play_demo;
use super::stack::{init_logs, own_client, runtime, serve, LlmArgs, StackArgs};

#[derive(Debug, Args)]
pub struct UpArgs {
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Once up, play the events/ samples of every workflow through the stack.
    #[arg(long)]
    pub demo: bool,
}

pub fn up(args: UpArgs) -> anyhow::Result<i32> {
    init_logs();
    handoff_core::model::load_encoder();
    let mut options = args.stack.options(false)?;
    let models = args.llm.configure(&mut options)?;
    let data_dir = args.stack.data_dir.clone();
    runtime()?.block_on(async move {
        let (stack, addr, server, resumed) = serve(options, args.port).await?;
        let url = format!("http://{addr}");
        let t = &stack.template;
        println!("handoff is up: {url}/");
        if let Some(link) = stack.login.link(&url) {
            println!("  login       {link}");
            println!("              (one sign-in; `handoff token --operator` mints more)");
        }
        println!("  dashboard   {url}/");
        println!("  outbox      {url}/outbox");
        for r in &t.routes {
            let note = if r.method == "GET" && r.path == "/" {
                " (the local dashboard serves this page)"
            } else {
                ""
            };
            println!("  {:<6} {url}{}  → {}{note}", r.method, r.path, r.function);
        }
        println!(
            "  state machine {} ({}), queue: visibility {} s, dead-letter after {} receives",
            t.state_machine.logical_id,
            t.state_machine.definition_uri,
            t.queue.visibility_timeout_seconds,
            t.queue.max_receive_count
        );
        println!(
            "  data in {}, secrets in {} (`handoff secrets` prints them)",
            data_dir.display(),
            stack.secrets.path.display()
        );
        for line in &models {
            println!("  {line}");
        }
        match encoder::shared() {
            Availability::Loaded(_) => println!(
                "  embedded classifier: n-grams + {} sentence embeddings",
                encoder::MODEL_NAME
            ),
            Availability::Absent(why) => println!("  embedded classifier: n-grams only ({why})"),
        }
        println!(
            "  retrained on new corrections every {} s, off the request path",
            crate::stack::RETRAIN_EVERY.as_secs()
        );
        if resumed > 0 {
            println!("  resumed {resumed} running execution(s)");
        }
        println!("Open the login link above — Ctrl-C stops.");
        let _ = std::io::stdout().flush();
        if args.demo {
            let client = own_client(&stack, url.clone());
            let stack = stack.clone();
            tokio::spawn(async move {
                if let Err(e) = play_demo(&client, true).await {
                    eprintln!("demo failed: {e:#}");
                } else {
                    println!("\nDemo done: open {}/ to see the runs.", stack.public_url);
                }
                let _ = std::io::stdout().flush();
            });
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = server => {}
        }
        Ok(0)
    })
}
