//! The outbox and the consumers on a real store: SQLite always, PostgreSQL too when
//! `DATABASE_URL` is set (each test in its own schema).

use eventing::{Db, Spec, Subscription, Target};
use serde_json::json;

static PRODUCER: Spec = Spec {
    system: "test",
    service: "producer_t",
    prefix: "/things",
    records: true,
    publishes: &["ThingChanged"],
    subscriptions: &[],
    views: &[],
};

const SUB: Subscription = Subscription {
    node: "n2",
    durable: "consumer-t-thing-changed",
    source: "producer_t",
    event: "ThingChanged",
    target: Target::View,
    view: "things",
};

static CONSUMER: Spec = Spec {
    system: "test",
    service: "consumer_t",
    prefix: "/c",
    records: false,
    publishes: &[],
    subscriptions: &[SUB],
    views: &["things"],
};

fn dbs(tag: &str, pg: bool) -> Vec<(Db, Db)> {
    let dir = std::env::temp_dir().join(format!(
        "eventing-{tag}-{}-{}",
        std::process::id(),
        eventing::now_ms()
    ));
    let d = dir.display().to_string();
    let mut out = vec![(
        Db::open(&PRODUCER, None, &d).expect("sqlite producer"),
        Db::open(&CONSUMER, None, &d).expect("sqlite consumer"),
    )];
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|_| pg) {
        let mut c =
            postgres::Client::connect(&url, postgres::NoTls).expect("DATABASE_URL connects");
        c.batch_execute(
            "DROP SCHEMA IF EXISTS producer_t CASCADE; DROP SCHEMA IF EXISTS consumer_t CASCADE",
        )
        .expect("drop schemas");
        out.push((
            Db::open(&PRODUCER, Some(&url), &d).expect("pg producer"),
            Db::open(&CONSUMER, Some(&url), &d).expect("pg consumer"),
        ));
    }
    out
}

#[test]
fn the_outbox_replicates_into_a_read_model_once_in_order() {
    for (p, c) in dbs("flow", true) {
        let engine = p.engine();
        p.write("a", Some(&json!({"id": "a", "v": 1})), true)
            .expect("write a");
        p.write("b", Some(&json!({"id": "b", "v": 1})), true)
            .expect("write b");
        p.write("a", Some(&json!({"id": "a", "v": 2})), false)
            .expect("replace a");
        p.write("b", None, false).expect("delete b");
        let (head, events) = p.outbox(0, 100).expect("outbox");
        assert_eq!(head, 4, "{engine}");
        assert_eq!(events.len(), 4, "{engine}");
        // Delivered twice, the second time in reverse: the view ends the same.
        for ev in events.iter().chain(events.iter().rev()) {
            c.apply(&SUB, Some(ev), ev.seq, ev.created_ms)
                .expect("apply");
        }
        let rows = c.view_list("things", 100, 0).expect("view").expect("rows");
        assert_eq!(rows, vec![json!({"id": "a", "v": 2})], "{engine}");
        assert_eq!(
            c.checkpoint(SUB.durable).expect("checkpoint"),
            4,
            "{engine}"
        );
        let (_, after) = p.outbox(2, 100).expect("outbox after 2");
        assert_eq!(
            after.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4],
            "{engine}"
        );
        assert_eq!(
            p.pending().expect("pending"),
            4,
            "{engine}: nothing was relayed yet"
        );
        p.mark_published(&[1, 2]).expect("mark");
        assert_eq!(p.unpublished(10).expect("unpublished").len(), 2, "{engine}");
    }
}

#[test]
fn a_duplicate_is_not_applied_twice() {
    for (p, c) in dbs("dup", false) {
        p.write("x", Some(&json!({"id": "x"})), true)
            .expect("write");
        let (_, events) = p.outbox(0, 10).expect("outbox");
        let first = c.apply(&SUB, Some(&events[0]), 1, 0).expect("apply");
        let again = c.apply(&SUB, Some(&events[0]), 1, 0).expect("apply again");
        assert!(first && !again, "{}", p.engine());
    }
}
