//! Fixed payloads the conformance scenarios look for.
//!
//! The suite checks shapes (a `data` field, a `mimeType`, a URI) rather than exact bytes, but the
//! payloads are still real: the PNG decodes to one red pixel and the WAV to eight samples of
//! silence, so a client that renders them does not choke.
//!
//! Imports: nothing from this crate (the request modules import it).

/// A 1×1 red PNG, base64.
pub(crate) const RED_PIXEL_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC";

/// A 16-bit mono 8 kHz WAV holding eight samples of silence, base64.
pub(crate) const SILENT_WAV: &str =
    "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// `tools-call-simple-text`.
pub(crate) const SIMPLE_TEXT: &str = "This is a simple text response for testing.";

/// `tools-call-error`.
pub(crate) const ERROR_TEXT: &str = "This tool intentionally returns an error for testing";

/// `tools-call-embedded-resource`.
pub(crate) const EMBEDDED_RESOURCE_URI: &str = "test://embedded-resource";
pub(crate) const EMBEDDED_RESOURCE_TEXT: &str = "This is an embedded resource content.";

/// `tools-call-mixed-content`.
pub(crate) const MIXED_RESOURCE_URI: &str = "test://mixed-content-resource";
pub(crate) const MIXED_RESOURCE_JSON: &str = r#"{"test":"data","value":123}"#;

/// `resources-read-text`.
pub(crate) const STATIC_TEXT_URI: &str = "test://static-text";
pub(crate) const STATIC_TEXT: &str = "This is the content of the static text resource.";

/// `resources-read-binary`.
pub(crate) const STATIC_BINARY_URI: &str = "test://static-binary";

/// `resources-subscribe` / `resources-unsubscribe`.
pub(crate) const WATCHED_URI: &str = "test://watched-resource";

/// `resources-templates-read`.
pub(crate) const TEMPLATE_URI: &str = "test://template/{id}/data";
pub(crate) const TEMPLATE_PREFIX: &str = "test://template/";
pub(crate) const TEMPLATE_SUFFIX: &str = "/data";

/// `json-schema-2020-12`: the tool name and the dialect its schema declares.
pub(crate) const JSON_SCHEMA_TOOL: &str = "json_schema_2020_12_tool";
pub(crate) const JSON_SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";
