//! Resources: two static ones (text and PNG), one that `test_trigger_resource_update` changes,
//! and the template `test://template/{id}/data`.
//!
//! Reading an unknown URI is an error carrying the URI in `data` (`-32002` for legacy peers;
//! rmcp turns it into `-32602` for 2026-07-28 peers, as SEP-2164 asks) — never empty contents.
//!
//! Imports: `fixtures`, `state`. Must not import `server` (which routes here).

use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde_json::json;

use crate::fixtures::{
    RED_PIXEL_PNG, STATIC_BINARY_URI, STATIC_TEXT, STATIC_TEXT_URI, TEMPLATE_PREFIX,
    TEMPLATE_SUFFIX, TEMPLATE_URI, WATCHED_URI,
};
use crate::state::Instance;

pub(crate) fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new(STATIC_TEXT_URI, "static-text")
            .with_description("A static text resource")
            .with_mime_type("text/plain"),
        Resource::new(STATIC_BINARY_URI, "static-binary")
            .with_description("A static PNG (one red pixel)")
            .with_mime_type("image/png"),
        Resource::new(WATCHED_URI, "watched-resource")
            .with_description("Text that changes on test_trigger_resource_update; subscribable")
            .with_mime_type("text/plain"),
    ])
}

pub(crate) fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(TEMPLATE_URI, "template-data")
            .with_description("JSON that echoes the {id} it was read with")
            .with_mime_type("application/json"),
    ])
}

pub(crate) fn read(instance: &Instance, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let contents = match uri {
        STATIC_TEXT_URI => ResourceContents::text(STATIC_TEXT, uri),
        STATIC_BINARY_URI => ResourceContents::blob(RED_PIXEL_PNG, uri).with_mime_type("image/png"),
        WATCHED_URI => ResourceContents::text(
            format!("Watched resource, revision {}", instance.watched_revision()),
            uri,
        ),
        _ => match template_id(uri) {
            Some(id) => {
                let body =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                ResourceContents::text(body.to_string(), uri).with_mime_type("application/json")
            }
            None => {
                return Err(ErrorData::resource_not_found(
                    "Resource not found",
                    Some(json!({"uri": uri})),
                ));
            }
        },
    };
    Ok(ReadResourceResult::new(vec![contents]))
}

/// Whether `uri` names a resource this server serves (for subscriptions).
pub(crate) fn exists(uri: &str) -> bool {
    matches!(uri, STATIC_TEXT_URI | STATIC_BINARY_URI | WATCHED_URI) || template_id(uri).is_some()
}

/// The `{id}` of a `test://template/{id}/data` URI; one non-empty path segment.
fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix(TEMPLATE_PREFIX)?
        .strip_suffix(TEMPLATE_SUFFIX)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}
