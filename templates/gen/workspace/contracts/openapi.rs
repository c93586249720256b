//! The HTTP contract as OpenAPI 3.1 (utoipa): the routes every service serves under its
//! prefix (its records when it takes writes, its read models when it owns a database),
//! the routes it serves for itself (`/health`, and `/metrics` and `/outbox` with a
//! database), and the gateway's document built from [`topology`](crate::topology): each
//! service's routes under its prefix, the aggregation endpoint, bearer authentication and
//! the gateway's own refusals (400, 401, 413, 429, 502, 504). Every service and the
//! gateway answer `GET /openapi.json` with these; their tests check that each documented
//! operation is routed.
//!
//! The bodies are JSON objects the services store as sent, so their schema is free-form
//! but for what the handlers check: `id`, the paging parameters and no U+0000 in strings.

use std::borrow::Cow;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi as Doc, OpenApiBuilder, Ref, RefOr, Required, Response,
    ResponseBuilder,
};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use crate::topology::{self, ServiceInfo};

/// The body of every refusal.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// `bad_request`, `not_found`, `conflict`, `unauthorized`, `too_many_requests`,
    /// `payload_too_large`, `bad_gateway`, `gateway_timeout` or `unavailable`.
    pub error: String,
    /// Why, in words.
    pub reason: String,
}

/// What `/health` answers.
#[derive(ToSchema)]
pub struct Health {
    pub status: String,
    pub service: String,
    pub instance: String,
    /// `sqlite` or `postgresql` (a service with a database).
    pub database: Option<String>,
    /// `embedded` or `nats` (a service with a database).
    pub bus: Option<String>,
}

/// Most characters of an id.
pub const MAX_ID_CHARS: usize = 128;

/// The pattern of an id: no control character (`char::is_control`).
pub const ID_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]+$";

fn id_string() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_ID_CHARS))
        .pattern(Some(ID_PATTERN))
}

/// A stored JSON document: an object whose fields are kept as sent.
pub struct Document;

impl PartialSchema for Document {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A JSON object, stored as sent. `id` names it: POST assigns one when it is absent, \
                 PUT takes the path's. No string (key or value) may contain U+0000.",
            ))
            .property(
                "id",
                OneOfBuilder::new()
                    .item(id_string())
                    .item(ObjectBuilder::new().schema_type(Type::Integer)),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for Document {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Document")
    }
}

fn free_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

/// The answer of the aggregation endpoint.
pub struct Aggregated;

impl PartialSchema for Aggregated {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "data",
                free_object().description(Some("Each answering service's JSON, by service key")),
            )
            .required("data")
            .property(
                "partial",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some(
                        "Whether a part is missing (also the `x-aggregate-partial` header)",
                    )),
            )
            .required("partial")
            .property(
                "missing",
                utoipa::openapi::schema::ArrayBuilder::new().items(string()),
            )
            .required("missing")
            .property(
                "errors",
                free_object().description(Some("Why each missing part is missing, by service key")),
            )
            .required("errors")
            .into()
    }
}

impl ToSchema for Aggregated {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Aggregated")
    }
}

/// A page of the outbox.
pub struct OutboxPage;

impl PartialSchema for OutboxPage {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "head",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .description(Some("The last sequence number")),
            )
            .required("head")
            .property(
                "events",
                utoipa::openapi::schema::ArrayBuilder::new().items(free_object()),
            )
            .required("events")
            .into()
    }
}

impl ToSchema for OutboxPage {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("OutboxPage")
    }
}

/// Documentation of the routes; the handlers are in the service crates.
#[allow(dead_code)]
mod ops {
    use super::{Document, ErrorBody, Health, OutboxPage};

    /// Documents, in id order.
    #[utoipa::path(get, path = "", tag = "records",
        params(("limit" = Option<i64>, Query, minimum = 0, description = "Documents to return (default 100, at most 1000)"),
               ("offset" = Option<i64>, Query, minimum = 0, description = "Documents to skip (default 0)")),
        responses((status = 200, description = "A page of documents", body = [Document]),
                  (status = 400, description = "`limit` or `offset` is not a non-negative integer", body = ErrorBody),
                  (status = 503, description = "The store did not answer; retry", body = ErrorBody)))]
    fn list() {}

    /// Stores a new document.
    #[utoipa::path(post, path = "", tag = "records",
        request_body(content = Document, content_type = "application/json"),
        responses((status = 201, description = "Stored", body = Document,
                   headers(("location" = String, description = "The document's path"))),
                  (status = 400, description = "The body is not a JSON object, `id` is neither a string nor a number, the id is empty, over 128 characters or holds a control character, or a string holds U+0000", body = ErrorBody),
                  (status = 409, description = "A document with that id exists (PUT replaces it)", body = ErrorBody),
                  (status = 503, description = "The store did not answer; retry", body = ErrorBody)))]
    fn create() {}

    /// One document.
    #[utoipa::path(get, path = "/{id}", tag = "records",
        params(("id" = String, Path, min_length = 1, max_length = 128, description = "The document's id")),
        responses((status = 200, description = "The document", body = Document),
                  (status = 400, description = "The id is over 128 characters or holds a control character", body = ErrorBody),
                  (status = 404, description = "No document has that id", body = ErrorBody),
                  (status = 503, description = "The store did not answer; retry", body = ErrorBody)))]
    fn fetch() {}

    /// Stores a document under the id, replacing any.
    #[utoipa::path(put, path = "/{id}", tag = "records",
        params(("id" = String, Path, min_length = 1, max_length = 128, description = "The document's id")),
        request_body(content = Document, content_type = "application/json"),
        responses((status = 200, description = "Replaced", body = Document),
                  (status = 201, description = "Created", body = Document),
                  (status = 400, description = "The body is not a JSON object, the id is over 128 characters or holds a control character, or a string holds U+0000", body = ErrorBody),
                  (status = 503, description = "The store did not answer; retry", body = ErrorBody)))]
    fn replace() {}

    /// Deletes a document.
    #[utoipa::path(delete, path = "/{id}", tag = "records",
        params(("id" = String, Path, min_length = 1, max_length = 128, description = "The document's id")),
        responses((status = 204, description = "Deleted"),
                  (status = 400, description = "The id is over 128 characters or holds a control character", body = ErrorBody),
                  (status = 404, description = "No document has that id", body = ErrorBody),
                  (status = 503, description = "The store did not answer; retry", body = ErrorBody)))]
    fn remove() {}

    /// The names of the read models.
    #[utoipa::path(get, path = "/views", tag = "views",
        responses((status = 200, description = "Read model names", body = [String])))]
    fn views() {}

    /// Rows of a read model, in id order.
    #[utoipa::path(get, path = "/views/{view}", tag = "views",
        params(("view" = String, Path, description = "The read model"),
               ("limit" = Option<i64>, Query, minimum = 0, description = "Rows to return (default 100, at most 1000)"),
               ("offset" = Option<i64>, Query, minimum = 0, description = "Rows to skip (default 0)")),
        responses((status = 200, description = "A page of rows", body = [Document]),
                  (status = 400, description = "`limit` or `offset` is not a non-negative integer", body = ErrorBody),
                  (status = 404, description = "No read model has that name", body = ErrorBody),
                  (status = 503, description = "The database did not answer; retry", body = ErrorBody)))]
    fn view_list() {}

    /// One row of a read model.
    #[utoipa::path(get, path = "/views/{view}/{id}", tag = "views",
        params(("view" = String, Path, description = "The read model"),
               ("id" = String, Path, min_length = 1, max_length = 128, description = "The row's id")),
        responses((status = 200, description = "The row", body = Document),
                  (status = 400, description = "The id is over 128 characters or holds a control character", body = ErrorBody),
                  (status = 404, description = "No read model has that name, or it has no such row", body = ErrorBody),
                  (status = 503, description = "The database did not answer; retry", body = ErrorBody)))]
    fn view_get() {}

    /// Liveness, and which instance answered.
    #[utoipa::path(get, path = "/health", tag = "service",
        responses((status = 200, description = "Alive", body = Health)))]
    fn health() {}

    /// Prometheus metrics: replication lag per consumer, the outbox.
    #[utoipa::path(get, path = "/metrics", tag = "service",
        responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
    fn metrics() {}

    /// The outbox, for the embedded bus: events after a sequence number.
    #[utoipa::path(get, path = "/outbox", tag = "service",
        params(("after" = Option<i64>, Query, minimum = 0, description = "Sequence number to read after (default 0)"),
               ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Events to return (default 100)")),
        responses((status = 200, description = "Events after `after`, oldest first", body = OutboxPage),
                  (status = 400, description = "`after` is not a non-negative integer or `limit` is not 1 to 1000", body = ErrorBody),
                  (status = 503, description = "The database did not answer; retry", body = ErrorBody)))]
    fn outbox() {}
}

#[derive(OpenApi)]
#[openapi(
    paths(ops::list, ops::create, ops::fetch, ops::replace, ops::remove),
    components(schemas(ErrorBody, Document))
)]
struct RecordsApi;

#[derive(OpenApi)]
#[openapi(
    paths(ops::views, ops::view_list, ops::view_get),
    components(schemas(ErrorBody, Document))
)]
struct ViewsApi;

#[derive(OpenApi)]
#[openapi(paths(ops::health), components(schemas(Health)))]
struct HealthApi;

#[derive(OpenApi)]
#[openapi(
    paths(ops::metrics, ops::outbox),
    components(schemas(ErrorBody, OutboxPage))
)]
struct DatabaseApi;

fn empty(title: String, description: String) -> Doc {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(title)
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(description)),
        )
        .build()
}

/// The operations of a path item.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// The routes `s` serves under its prefix: records when it takes writes, read models
/// when it owns a database (`{view}` is one of its read models).
pub fn prefixed(s: &ServiceInfo) -> Doc {
    let mut api = empty(s.name.to_string(), String::new());
    if s.records {
        api.merge(RecordsApi::openapi());
    }
    if s.store == "sql" {
        let mut views = ViewsApi::openapi();
        if s.views.is_empty() {
            views.paths.paths.retain(|p, _| p == "/views");
        }
        api.merge(views);
    }
    for item in api.paths.paths.values_mut() {
        for op in operations(item) {
            for p in op.parameters.iter_mut().flatten() {
                if p.name == "view" && p.parameter_in == ParameterIn::Path {
                    p.schema = Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(s.views.iter().copied()))
                            .into(),
                    );
                }
            }
        }
    }
    empty(s.name.to_string(), String::new()).nest(s.prefix, api)
}

/// What service `s` serves itself: [`prefixed`], `/health`, and `/metrics` and
/// `/outbox` when it owns a database.
pub fn service(s: &ServiceInfo) -> Doc {
    let mut doc = empty(
        s.name.to_string(),
        format!(
            "{} (`{}`): documents under `{}`{}.",
            s.name,
            s.key,
            s.prefix,
            if s.store == "sql" {
                ", in its own database, and its read models"
            } else {
                ", kept in memory"
            }
        ),
    );
    doc.merge(prefixed(s));
    doc.merge(HealthApi::openapi());
    if s.store == "sql" {
        doc.merge(DatabaseApi::openapi());
    }
    doc
}

fn refusal(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// The gateway's refusals, added to every routed operation.
fn gateway_responses(op: &mut Operation, aggregate: bool) {
    let r = &mut op.responses.responses;
    if topology::AUTHENTICATE {
        let mut unauthorized = refusal(
            "No bearer token, or one that is malformed, expired, not yet valid, for another \
             audience or issuer, or signed with another key",
        );
        unauthorized.headers.insert(
            "www-authenticate".into(),
            HeaderBuilder::new()
                .schema(string())
                .description(Some("`Bearer realm=\"gateway\"`, with `error_description`"))
                .build(),
        );
        r.insert("401".into(), unauthorized.into());
    }
    if topology::RATE_LIMIT {
        let mut limited = refusal("Over the per-client or the global rate limit");
        limited.headers.insert(
            "retry-after".into(),
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait"))
                .build(),
        );
        r.insert("429".into(), limited.into());
    }
    if aggregate {
        r.insert(
            "502".into(),
            refusal("No part of the aggregate answered").into(),
        );
    } else {
        r.entry("400".into())
            .or_insert_with(|| refusal("The request cannot be forwarded as it is").into());
        r.insert(
            "413".into(),
            refusal("The body is over `MAX_BODY_BYTES`").into(),
        );
        r.insert(
            "502".into(),
            refusal("No live instance of the service, or none could be reached").into(),
        );
        r.insert(
            "504".into(),
            refusal("The service did not answer within `UPSTREAM_TIMEOUT_MS`").into(),
        );
    }
    if topology::AUTHENTICATE {
        op.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The `{name}` placeholders of the aggregate's part paths, in order, once each.
pub fn aggregate_params(a: &topology::Aggregate) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for p in a.parts {
        let mut rest = p.path;
        while let Some(i) = rest.find('{') {
            let Some(j) = rest[i..].find('}') else { break };
            let name = &rest[i + 1..i + j];
            if !out.contains(&name) {
                out.push(name);
            }
            rest = &rest[i + j + 1..];
        }
    }
    out
}

fn aggregate_doc(a: &topology::Aggregate) -> Doc {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder};
    let mut op = OperationBuilder::new()
        .tags(Some(["aggregate"]))
        .operation_id(Some("aggregate"))
        .summary(Some(format!(
            "{}: one call to each of {}, joined",
            a.node,
            a.parts
                .iter()
                .map(|p| format!("{} ({})", p.service, p.path))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    for name in aggregate_params(a) {
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::True)
                .description(Some(format!("Fills `{{{name}}}` in the parts' paths")))
                .schema(Some(string().min_length(Some(1)))),
        );
    }
    let mut op = op
        .response(
            "200",
            ResponseBuilder::new()
                .description(
                    "Every part's answer under `data`; a part that failed or was too slow \
                     (`AGGREGATE_TIMEOUT_MS`) is named in `missing` and `partial` is true",
                )
                .header(
                    "x-aggregate-partial",
                    HeaderBuilder::new()
                        .schema(string().enum_values(Some(["true", "false"])))
                        .build(),
                )
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Aggregated")))
                        .build(),
                ),
        )
        .response(
            "400",
            refusal("A query parameter a part's path needs is missing or empty"),
        )
        .build();
    gateway_responses(&mut op, true);
    let mut doc = empty(String::new(), String::new());
    doc.paths.paths.insert(
        a.path.to_string(),
        PathItem::new(utoipa::openapi::path::HttpMethod::Get, op),
    );
    doc
}

#[derive(OpenApi)]
#[openapi(components(schemas(ErrorBody, Aggregated)))]
struct GatewaySchemas;

/// The gateway's document: each service's [`prefixed`] routes under its prefix (tagged
/// with its key, operation ids `{key}_{operation}`), the aggregation endpoint, `/health`,
/// and the bearer scheme the authenticated routes need.
pub fn gateway() -> Doc {
    let mut doc = empty(
        format!("{} gateway", topology::SYSTEM),
        format!(
            "The API gateway of {}: {}{}{}",
            topology::SYSTEM,
            topology::SERVICES
                .iter()
                .map(|s| format!("`{}` → {}", s.prefix, s.key))
                .collect::<Vec<_>>()
                .join(", "),
            match topology::AGGREGATE {
                Some(a) => format!(", `{}` joins {} parts", a.path, a.parts.len()),
                None => String::new(),
            },
            if topology::AUTHENTICATE {
                ". Every route but `/health` and `/openapi.json` needs a bearer token (JWT)."
            } else {
                "."
            }
        ),
    );
    doc.merge(GatewaySchemas::openapi());
    for s in topology::SERVICES {
        let mut api = prefixed(s);
        for item in api.paths.paths.values_mut() {
            for op in operations(item) {
                op.tags = Some(vec![s.key.to_string()]);
                op.operation_id = op.operation_id.take().map(|id| format!("{}_{id}", s.key));
                gateway_responses(op, false);
            }
        }
        doc.merge(api);
    }
    if let Some(a) = topology::AGGREGATE {
        doc.merge(aggregate_doc(&a));
    }
    let mut health = HealthApi::openapi();
    for item in health.paths.paths.values_mut() {
        for op in operations(item) {
            op.operation_id = Some("gateway_health".into());
            op.responses.responses.insert(
                "200".into(),
                ResponseBuilder::new()
                    .description("Alive")
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                            .build(),
                    )
                    .build()
                    .into(),
            );
        }
    }
    health.components = None;
    doc.merge(health);
    if topology::AUTHENTICATE {
        if let Some(c) = doc.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "HS256 with JWT_SECRET or RS256 with the keys of JWT_JWKS_FILE; \
                             `gateway mint-token --sub NAME` mints one",
                        ))
                        .build(),
                ),
            );
        }
    }
    doc
}
