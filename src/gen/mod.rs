//! `fz gen`: a runnable CQRS / event-sourced Rust project from a diagram.
//!
//! Model (architecture components + CQRS roles) + domain → [`plan::Plan`] (a small IR
//! listing the template packs of [`packs`] the project uses) → askama templates
//! ([`templates`], one folder per pack) → files written with the regeneration rules of
//! [`writer`].

pub mod domain;
pub mod naming;
pub mod packs;
pub mod plan;
pub mod rustfmt;
pub mod templates;
pub mod ui;
pub mod workspace;
pub mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::arch::{Architecture, InferOptions, Overrides};
use crate::model::{self, Role, Roles};

pub use domain::DomainFile;
pub use plan::Plan;

/// Why `fz gen` stopped; every message names the file or item at fault.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} has {count} error(s); run `fz check {path}` to see them")]
    Diagram { path: String, count: usize },
    #[error("{path}: {source}")]
    Domain {
        path: String,
        source: domain::DomainError,
    },
    #[error("{path}: role override for {node}: {message}")]
    Role {
        path: String,
        node: String,
        message: String,
    },
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Render(#[from] templates::RenderError),
    #[error(transparent)]
    Write(#[from] writer::WriteError),
    #[error(transparent)]
    Rustfmt(#[from] rustfmt::RustfmtError),
    #[error(transparent)]
    Workspace(#[from] workspace::WorkspaceError),
    #[error(transparent)]
    WorkspaceRender(#[from] workspace::RenderError),
}

/// Node id, role and the reason the role was given, for `--explain`.
pub type RoleExplanation = (String, String, String);

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub diagram: PathBuf,
    pub out: PathBuf,
    /// Domain file; `None`: `<diagram>.gen.toml` beside the diagram when present.
    pub domain: Option<PathBuf>,
    pub force: bool,
    /// Format the Rust files with the machine's rustfmt before writing them.
    pub rustfmt: bool,
}

/// What `fz gen` did.
#[derive(Debug)]
pub struct GenOutput {
    pub plan: Plan,
    pub roles: Vec<RoleExplanation>,
    pub report: writer::WriteReport,
    /// The domain file used, if any.
    pub domain: Option<PathBuf>,
}

/// `<diagram>.gen.toml` beside the diagram.
pub fn default_domain_path(diagram: &Path) -> PathBuf {
    let name = diagram
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = name.strip_suffix(".fz").unwrap_or(&name);
    diagram.with_file_name(format!("{stem}.gen.toml"))
}

/// Parses a domain file's text, naming the file in errors.
pub fn parse_domain(text: &str, path: &str) -> Result<DomainFile, GenError> {
    DomainFile::parse(text).map_err(|source| GenError::Domain {
        path: path.to_string(),
        source,
    })
}

/// Role overrides of a domain file's `[roles]` table.
pub fn role_overrides(
    d: Option<&DomainFile>,
    path: &str,
) -> Result<BTreeMap<String, Role>, GenError> {
    let mut out = BTreeMap::new();
    if let Some(d) = d {
        for (node, role) in &d.roles {
            let r: Role = role
                .parse()
                .map_err(|e: model::roles::UnknownRole| GenError::Role {
                    path: path.to_string(),
                    node: node.clone(),
                    message: e.to_string(),
                })?;
            out.insert(node.clone(), r);
        }
    }
    Ok(out)
}

/// The architecture-model overrides of a domain file: its `[roles]` and `[components]`.
pub fn overrides(
    diagram: &model::Diagram,
    d: Option<&DomainFile>,
    path: &str,
) -> Result<Overrides, GenError> {
    let mut o = Overrides::default();
    for (node, role) in role_overrides(d, path)? {
        o.nodes.insert(node, role.component());
    }
    if let Some(d) = d {
        for (key, value) in &d.components {
            o.add(diagram, key, value).map_err(|e| GenError::Role {
                path: path.to_string(),
                node: key.clone(),
                message: format!("[components] {e}"),
            })?;
        }
    }
    Ok(o)
}

/// Builds the plan of a diagram's source (no file system access).
pub fn plan_source(
    source: &str,
    diagram_name: &str,
    domain: Option<&DomainFile>,
    domain_name: &str,
) -> Result<(Plan, Vec<RoleExplanation>), GenError> {
    let checked = model::check(source);
    if checked.has_errors() {
        return Err(GenError::Diagram {
            path: diagram_name.to_string(),
            count: checked.error_count(),
        });
    }
    let overrides = overrides(&checked.diagram, domain, domain_name)?;
    let arch = Architecture::infer(&checked.diagram, &overrides, InferOptions::default());
    let roles = Roles::from_architecture(&checked.diagram, &arch);
    let explained = roles
        .assigned
        .iter()
        .map(|a| {
            (
                checked.diagram.node(a.node).id.clone(),
                a.role.as_str().to_string(),
                a.reason.clone(),
            )
        })
        .collect();
    let plan = plan::build_arch(
        &checked.diagram,
        &arch,
        &roles,
        domain,
        diagram_name,
        domain_name,
    )?;
    Ok((plan, explained))
}

/// Generates the project: reads the diagram and domain, plans, renders, writes.
pub fn generate(opts: &GenOptions) -> Result<GenOutput, GenError> {
    let source = std::fs::read_to_string(&opts.diagram).map_err(|source| GenError::Read {
        path: opts.diagram.clone(),
        source,
    })?;
    let domain_path = match &opts.domain {
        Some(p) => Some(p.clone()),
        None => Some(default_domain_path(&opts.diagram)).filter(|p| p.is_file()),
    };
    let domain = match &domain_path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| GenError::Read {
                path: p.clone(),
                source,
            })?;
            Some(parse_domain(&text, &p.display().to_string())?)
        }
        None => None,
    };
    let diagram_name = opts
        .diagram
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "diagram.fz".into());
    let domain_name = match &domain_path {
        Some(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        None => "inferred from the labels".to_string(),
    };
    let (plan, roles) = plan_source(&source, &diagram_name, domain.as_ref(), &domain_name)?;
    let mut files = templates::render(&plan)?;
    if opts.rustfmt {
        rustfmt::format(&mut files)?;
    }
    let report = writer::write(&opts.out, &files, opts.force)?;
    Ok(GenOutput {
        plan,
        roles,
        report,
        domain: domain_path,
    })
}
