// Fixed payloads the conformance scenarios look for (the same bytes as the
// Rust example server's `images/example-server/src/fixtures.rs`, so both
// servers answer alike). No imports: every other module may import this one.

/** A 1x1 red PNG, base64. */
export const RED_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC';

/** A 16-bit mono 8 kHz WAV holding eight samples of silence, base64. */
export const SILENT_WAV =
  'UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA';

export const SIMPLE_TEXT = 'This is a simple text response for testing.';
export const ERROR_TEXT = 'This tool intentionally returns an error for testing';

export const EMBEDDED_RESOURCE_URI = 'test://embedded-resource';
export const EMBEDDED_RESOURCE_TEXT = 'This is an embedded resource content.';
export const MIXED_RESOURCE_URI = 'test://mixed-content-resource';
export const MIXED_RESOURCE_JSON = '{"test":"data","value":123}';

export const STATIC_TEXT_URI = 'test://static-text';
export const STATIC_TEXT = 'This is the content of the static text resource.';
export const STATIC_BINARY_URI = 'test://static-binary';
export const WATCHED_URI = 'test://watched-resource';
export const TEMPLATE_URI = 'test://template/{id}/data';

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** `json-schema-2020-12`: `$schema`, `$defs` with an `$anchor`, `$ref`,
 * composition, conditionals and `additionalProperties`, advertised verbatim. */
export const JSON_SCHEMA_2020_12 = {
  $schema: JSON_SCHEMA_DIALECT,
  type: 'object',
  $defs: {
    address: {
      $anchor: 'addressDef',
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
};

/** `tools-call-elicitation`. */
export const USER_SCHEMA = {
  type: 'object',
  properties: {
    username: { type: 'string', description: "User's response" },
    email: { type: 'string', description: "User's email address" },
  },
  required: ['username', 'email'],
};

/** `elicitation-sep1034-defaults`: a default for every primitive type. */
export const DEFAULTS_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', description: "User's name", default: 'John Doe' },
    age: { type: 'integer', description: "User's age", default: 30 },
    score: { type: 'number', description: "User's score", default: 95.5 },
    status: {
      type: 'string',
      description: "User's status",
      enum: ['active', 'inactive', 'pending'],
      default: 'active',
    },
    verified: { type: 'boolean', description: 'Whether the user is verified', default: true },
  },
};

/** `elicitation-sep1330-enums`: untitled, titled and legacy single-select;
 * untitled and titled multi-select. */
export const ENUMS_SCHEMA = {
  type: 'object',
  properties: {
    untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    titledSingle: {
      type: 'string',
      oneOf: [
        { const: 'value1', title: 'First Option' },
        { const: 'value2', title: 'Second Option' },
        { const: 'value3', title: 'Third Option' },
      ],
    },
    legacyEnum: {
      type: 'string',
      enum: ['opt1', 'opt2', 'opt3'],
      enumNames: ['Option One', 'Option Two', 'Option Three'],
    },
    untitledMulti: {
      type: 'array',
      items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    },
    titledMulti: {
      type: 'array',
      items: {
        anyOf: [
          { const: 'value1', title: 'First Choice' },
          { const: 'value2', title: 'Second Choice' },
          { const: 'value3', title: 'Third Choice' },
        ],
      },
    },
  },
};

/** `{"type":"object","properties":{field: schema},"required":[field]}`. */
export function objectSchema(field, schema) {
  return { type: 'object', properties: { [field]: schema }, required: [field] };
}
