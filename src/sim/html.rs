//! `--report x.html`: a self-contained page (inline CSS and SVG, no scripts, nothing fetched at
//! view time): the diagram coloured by utilisation (drawn by [`crate::render`]), the per-node
//! table, latency histograms and queue length over time.

use std::fmt::Write as _;

use super::report::{Lat, Report};
use super::time::{format_secs, secs};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn t(x: Option<f64>) -> String {
    x.map_or("-".into(), format_secs)
}

/// Bars of a latency histogram: 40 equal-width bins up to the 99.9th percentile.
fn histogram_svg(l: &Lat, title: &str) -> String {
    let mut s = String::new();
    let (w, h) = (420.0, 140.0);
    let _ = write!(s, "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\">", esc(title), h + 20.0, h + 20.0);
    if l.count == 0 {
        s.push_str("<text x=\"10\" y=\"20\">no samples</text></svg></figure>");
        return s;
    }
    let Some(hist) = &l.merged.hist else {
        s.push_str("<text x=\"10\" y=\"20\">no samples</text></svg></figure>");
        return s;
    };
    let top = hist.value_at_quantile(0.999).max(1) as f64;
    let bins = 40usize;
    let mut counts = vec![0u64; bins];
    for v in hist.iter_recorded() {
        let x = v.value_iterated_to() as f64;
        let b = ((x / top) * bins as f64) as usize;
        if b < bins {
            counts[b] += v.count_since_last_iteration();
        }
    }
    let maxc = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = w / bins as f64;
    for (i, c) in counts.iter().enumerate() {
        let bh = *c as f64 / maxc * h;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#4a7fb5\"/>",
            i as f64 * bw,
            h - bh,
            bw - 1.0,
            bh
        );
    }
    let _ = write!(s, "<text x=\"0\" y=\"{}\" font-size=\"11\">0</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>", h + 14.0, w, h + 14.0, format_secs(top / 1e9));
    s.push_str("</svg></figure>");
    s
}

/// Tokens at each station over time (replication 0), one polyline per station.
fn queue_svg(r: &Report) -> String {
    let mut s = String::new();
    let (w, h) = (860.0, 220.0);
    let maxv = r
        .nodes
        .iter()
        .flat_map(|n| n.series.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let len = r.nodes.iter().map(|n| n.series.len()).max().unwrap_or(0);
    let _ = write!(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\">", h + 40.0, h + 40.0);
    if len < 2 {
        s.push_str("<text x=\"10\" y=\"20\">no samples</text></svg>");
        return s;
    }
    const COLORS: [&str; 8] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    ];
    for (k, n) in r
        .nodes
        .iter()
        .filter(|n| n.series.iter().any(|&x| x > 0))
        .enumerate()
    {
        let c = COLORS[k % COLORS.len()];
        let pts: Vec<String> = n
            .series
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{:.1},{:.1}",
                    i as f64 / (len - 1) as f64 * w,
                    h - *v as f64 / maxv * h
                )
            })
            .collect();
        let _ = write!(s, "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1\" points=\"{}\"><title>{}</title></polyline>", pts.join(" "), esc(&n.id));
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{c}\">{}</text>",
            (k % 10) * 80,
            h + 30.0 + (k / 10) as f64 * 12.0,
            esc(&n.id)
        );
    }
    let _ = write!(s, "<text x=\"0\" y=\"12\" font-size=\"11\">max {maxv}</text><text x=\"{w}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>", h + 14.0, format_secs(secs(r.duration)));
    s.push_str("</svg>");
    s
}

/// The whole page. `diagram_svg` is the diagram drawn by the renderer (the CLI composes the
/// two backends: the simulator does not reach into the renderer).
pub fn render(r: &Report, diagram_svg: &str) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(s, "<title>fz sim: {}</title>", esc(&r.model));
    s.push_str("<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f0f0f0}td.l{text-align:left}.hot{background:#fde0dc}figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:12px}#diagram svg{max-width:100%;height:auto}</style></head><body>\n");
    let _ = write!(
        s,
        "<h1>fz sim: {}</h1><p>{} simulated, {} warmup, seed {}, {} replication(s), {} events.</p>",
        esc(&r.model),
        format_secs(secs(r.duration)),
        format_secs(secs(r.warmup)),
        r.seed,
        r.replications,
        r.events
    );
    s.push_str("<section id=\"diagram\"><h2>Diagram, coloured by utilisation</h2>\n");
    s.push_str(diagram_svg);
    s.push_str("\n</section>\n");
    if let Some(b) = &r.bottleneck {
        let _ = write!(s, "<p><b>Bottleneck:</b> {}</p>", esc(b));
    }
    if !r.unstable.is_empty() {
        let _ = write!(s, "<p><b>Unstable:</b> {}</p>", esc(&r.unstable.join(", ")));
    }
    s.push_str("<h2>Stations</h2><table><tr><th>node</th><th>label</th><th>servers</th><th>arrivals</th><th>throughput/s</th><th>utilisation</th><th>mean queue</th><th>wait mean</th><th>wait p99</th><th>response mean</th><th>response p50</th><th>response p99</th><th>drops</th></tr>\n");
    for n in &r.nodes {
        let hot = if r.bottleneck.as_deref() == Some(n.id.as_str()) || r.unstable.contains(&n.id) {
            " class=\"hot\""
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "<tr{hot}><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{:.0}</td><td>{:.1}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&n.id), esc(&n.label), n.servers, n.arrivals.v(), n.throughput.v(), n.utilization.v(), n.mean_queue.v(),
            t(n.wait.mean.mean), t(n.wait.p99), t(n.response.mean.mean), t(n.response.p50), t(n.response.p99), n.drops
        );
    }
    s.push_str("</table>\n<h2>End to end</h2><table><tr><th>sink</th><th>mean</th><th>p50</th><th>p99</th><th>completed</th></tr>");
    for (id, l) in r
        .sinks
        .iter()
        .chain(std::iter::once(&("all".to_string(), r.end_to_end.clone())))
    {
        let _ = write!(
            s,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(id),
            t(l.mean.mean),
            t(l.p50),
            t(l.p99),
            l.count
        );
    }
    s.push_str("</table>\n");
    if !r.requests.is_empty() {
        let _ = write!(
            s,
            "<h2>{}</h2><table><tr><th>entry</th><th>outcome</th><th>share</th><th>mean</th><th>p50</th><th>p99</th><th>completed</th></tr>",
            esc(&r.requests_title)
        );
        for q in &r.requests {
            for o in &q.outcomes {
                let _ = write!(
                    s,
                    "<tr><td class=\"l\">{} {}</td><td class=\"l\">{} {}</td><td>{:.2}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&q.id), esc(&q.label), esc(&o.id), esc(&o.label), o.share * 100.0,
                    t(o.latency.mean.mean), t(o.latency.p50), t(o.latency.p99), o.latency.count
                );
            }
        }
        s.push_str("</table>\n");
    }
    if !r.joins.is_empty() {
        s.push_str("<h2>Fork-join (fork to join)</h2><table><tr><th>join</th><th>mean</th><th>p50</th><th>p99</th><th>joined</th><th>partial</th></tr>");
        for j in &r.joins {
            let _ = write!(
                s,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&j.id), t(j.fork_join.mean.mean), t(j.fork_join.p50), t(j.fork_join.p99), j.joined, j.partial
            );
        }
        s.push_str("</table>\n");
    }
    if let Some(c) = &r.cqrs {
        let _ = write!(
            s,
            "<h2>{} lens</h2><table>",
            if c.lens == "replication" {
                "Replication"
            } else {
                "CQRS"
            }
        );
        s.push_str("<tr><th>view</th><th>lag mean</th><th>lag p50</th><th>lag p99</th><th>lag max</th><th>order violations</th></tr>");
        for (id, lag, v) in &c.views {
            let _ = write!(s, "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(id), t(lag.mean.mean), t(lag.p50), t(lag.p99), t(lag.max), v);
        }
        let _ = write!(
            s,
            "</table><p>Command latency mean {} p99 {}. Reads: {} (mean {}, staleness mean {}, p99 {}).</p>",
            t(c.command.mean.mean), t(c.command.p99), c.reads.count, t(c.reads.mean.mean), t(c.staleness.mean.mean), t(c.staleness.p99)
        );
        if c.confirm.count > 0 {
            let _ = write!(
                s,
                "<p>Submit to confirmation mean {} p50 {} p99 {} ({} confirmations).</p>",
                t(c.confirm.mean.mean),
                t(c.confirm.p50),
                t(c.confirm.p99),
                c.confirm.count
            );
        }
    }
    s.push_str("<h2>Assumptions (defaults this run used; set them in the profile)</h2><ul>");
    if r.assumptions.is_empty() {
        s.push_str("<li>none: the profile sets everything</li>");
    }
    for a in &r.assumptions {
        let _ = write!(s, "<li>{}</li>", esc(a));
    }
    s.push_str("</ul>\n");
    s.push_str("<h2>Latency histograms</h2>\n");
    s.push_str(&histogram_svg(&r.end_to_end, "end to end"));
    for n in r
        .nodes
        .iter()
        .filter(|n| n.response.count > 0 && n.response.mean.v() > 0.0)
    {
        s.push_str(&histogram_svg(
            &n.response,
            &format!("{} {} response", n.id, n.label),
        ));
    }
    s.push_str("\n<h2>Tokens at each station over time (replication 1)</h2>\n");
    s.push_str(&queue_svg(r));
    s.push_str("\n</body></html>\n");
    s
}
