//! `fz render`: draw a diagram as SVG or PNG.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::render::{self, RenderOptions, Theme, View};

use super::input;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Diagram file (`-` for standard input)
    pub file: PathBuf,
    /// Output file: `.svg` or `.png` (SVG on standard output when absent or `-`)
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Which drawing
    #[arg(long, value_enum, default_value_t = View::Workflow)]
    pub view: View,
    /// Colours
    #[arg(long, value_enum, default_value_t = Theme::Light)]
    pub theme: Theme,
}

pub fn run(args: &RenderArgs) -> ExitCode {
    let (_, checked) = match input::load_checked(&args.file, "rendered") {
        Ok(loaded) => loaded,
        Err(e) => return e.exit_code(),
    };
    let options = RenderOptions {
        view: args.view,
        theme: args.theme,
        ..RenderOptions::default()
    };
    let png = args
        .output
        .as_ref()
        .and_then(|p| p.extension())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let result = if png {
        let Some(path) = args.output.as_ref() else {
            return ExitCode::from(2);
        };
        render::render_png(&checked.diagram, &options).and_then(|bytes| {
            input::write_atomic(path, &bytes)
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
        })
    } else {
        let svg = render::render_svg(&checked.diagram, &options);
        input::write_output(args.output.as_ref(), &svg)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.starts_with("error:") {
                eprintln!("{e}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(2)
        }
    }
}
