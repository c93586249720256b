//! `fz gen`: generate a runnable CQRS / event-sourced Rust project from a diagram.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use crate::gen::{self, GenOptions};

#[derive(Debug, Args)]
pub struct GenArgs {
    /// The diagram (.fz)
    pub file: PathBuf,
    /// Output folder of the generated project
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
    /// Domain file (TOML); default: FILE.gen.toml beside the diagram when present
    #[arg(long)]
    pub domain: Option<PathBuf>,
    /// Overwrite generated files even where you edited them (default: write *.fz-new beside them)
    #[arg(long)]
    pub force: bool,
    /// Format the generated Rust files with rustfmt (so `cargo fmt --check` passes; about 250 ms more)
    #[arg(long)]
    pub rustfmt: bool,
    /// Print each node's role and why, and the plan's inferences
    #[arg(long)]
    pub explain: bool,
}

pub fn run(args: &GenArgs) -> ExitCode {
    let started = Instant::now();
    let opts = GenOptions {
        diagram: args.file.clone(),
        out: args.out.clone(),
        domain: args.domain.clone(),
        force: args.force,
        rustfmt: args.rustfmt,
    };
    // Systems of several services (a gateway, or services that each own a store) get a
    // Cargo workspace; everything else the single-service generator.
    match gen::workspace::generate_if_multi_service(&opts) {
        Ok(Some(w)) => return workspace_report(args, &w, started),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let out = match gen::generate(&opts) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.explain {
        eprintln!("roles:");
        for (node, role, reason) in &out.roles {
            eprintln!("  {node:<6} {role:<16} {reason}");
        }
        eprintln!("code:");
        for n in &out.plan.nodes {
            eprintln!("  {:<6} {:<16} {} :: {}", n.node, n.role, n.file, n.symbol);
        }
    }
    match &out.domain {
        Some(p) => eprintln!("domain: {}", p.display()),
        None => eprintln!(
            "domain: none given and no {} found; inferred from the labels",
            gen::default_domain_path(&args.file).display()
        ),
    }
    for note in &out.plan.inferred {
        eprintln!("note: {note}");
    }
    let r = &out.report;
    print_file_notes(r);
    eprintln!(
        "generated {} in {}: {}",
        out.plan.crate_name,
        args.out.display(),
        file_counts(r, started)
    );
    ExitCode::SUCCESS
}

fn workspace_report(
    args: &GenArgs,
    w: &gen::workspace::WorkspaceOutput,
    started: Instant,
) -> ExitCode {
    let p = &w.plan;
    if args.explain {
        eprintln!("services:");
        for s in &p.services {
            eprintln!(
                "  {:<6} {:<20} {:<12} port {} ({})",
                s.node, s.key, s.prefix, s.port, s.prefix_reason
            );
        }
        if let Some(a) = &p.aggregate {
            let parts: Vec<String> = a
                .parts
                .iter()
                .map(|x| format!("{} {}", x.service, x.path))
                .collect();
            eprintln!(
                "aggregate: GET {} ({} joins the fan-out at {}): {}",
                a.path,
                a.node,
                a.fork,
                parts.join(", ")
            );
        }
        eprintln!("code:");
        for n in &p.nodes {
            eprintln!(
                "  {:<6} {:<24} {} :: {}",
                n.node, n.component, n.file, n.symbol
            );
        }
    }
    for note in &p.notes {
        eprintln!("note: {note}");
    }
    let r = &w.report;
    print_file_notes(r);
    eprintln!(
        "generated workspace {} ({} services, gateway{}) in {}: {}",
        p.system,
        p.services.len(),
        if p.aggregate.is_some() {
            ", aggregation"
        } else {
            ""
        },
        args.out.display(),
        file_counts(r, started)
    );
    eprintln!("run it: cd {} && cargo run -p dev", args.out.display());
    ExitCode::SUCCESS
}

/// What regeneration did to files the user may have edited, the same for a project and a
/// workspace.
fn print_file_notes(r: &gen::writer::WriteReport) {
    for p in &r.fz_new {
        eprintln!(
            "warning: you edited {p}; the new version is in {p}.fz-new (use --force to overwrite)"
        );
    }
    for p in &r.forced {
        eprintln!("note: overwrote your edits to {p} (--force)");
    }
    for p in &r.orphaned {
        eprintln!("note: {p} is no longer generated and was edited; left in place");
    }
    for p in &r.removed {
        eprintln!("note: removed {p} (no longer generated)");
    }
}

/// The summary line's counts: "N written, N unchanged, N kept (yours), N *.fz-new (T ms)".
fn file_counts(r: &gen::writer::WriteReport, started: Instant) -> String {
    format!(
        "{} written, {} unchanged, {} kept (yours), {} *.fz-new ({:.0} ms)",
        r.written.len(),
        r.unchanged.len(),
        r.kept.len(),
        r.fz_new.len(),
        started.elapsed().as_secs_f64() * 1e3
    )
}
