// Prompts and resources: the `prompts-get-*` and `resources-*` fixtures, the
// input-required prompt (SEP-2322 input requests are not only for tools), the
// prompt test_trigger_prompt_change toggles, and completions (the SDK answers
// completion/complete from `completable` prompt arguments and the template's
// `complete` callbacks).
//
// Imports: fixtures.mjs, input.mjs, state.mjs and the SDK.

import { acceptedContent, completable, inputRequired, ResourceTemplate } from '@modelcontextprotocol/server';
import * as z from 'zod/v4';

import * as fx from './fixtures.mjs';
import { needInput } from './input.mjs';
import * as state from './state.mjs';

const userText = (text) => ({ role: 'user', content: { type: 'text', text } });
const prefixOf = (candidates) => (value) => candidates.filter((candidate) => candidate.startsWith(value ?? ''));

/** Registers the prompts; returns the registration of `test_dynamic_prompt`. */
export function registerPrompts(server) {
  server.registerPrompt('test_simple_prompt', { description: 'A prompt without arguments' }, async () => ({
    messages: [userText('This is a simple prompt for testing.')],
  }));
  server.registerPrompt(
    'test_prompt_with_arguments',
    {
      description: 'A prompt that quotes its two arguments',
      argsSchema: z.object({
        arg1: completable(z.string().describe('First test argument'), prefixOf(['paris', 'park', 'party'])),
        arg2: completable(z.string().describe('Second test argument'), prefixOf(['red', 'green', 'blue'])),
      }),
    },
    async ({ arg1, arg2 }) => ({ messages: [userText(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`)] }),
  );
  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    {
      description: 'A prompt that embeds the resource named by resourceUri',
      argsSchema: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
    },
    async ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' },
          },
        },
        userText('Please process the embedded resource above.'),
      ],
    }),
  );
  server.registerPrompt('test_prompt_with_image', { description: 'A prompt that includes an image' }, async () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: fx.RED_PIXEL_PNG, mimeType: 'image/png' } },
      userText('Please analyze the image above.'),
    ],
  }));
  // Without argsSchema the callback gets the context only.
  server.registerPrompt(
    'test_input_required_result_prompt',
    { description: 'A prompt that first asks the user for context (key user_context)' },
    async (ctx) => {
      const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_context', z.object({ context: z.string() }));
      if (answer === undefined) {
        return needInput({
          inputRequests: {
            user_context: inputRequired.elicit({
              message: 'What context should the prompt use?',
              requestedSchema: fx.objectSchema('context', { type: 'string' }),
            }),
          },
        });
      }
      return { messages: [userText(`Answer using this context: ${answer.context}`)] };
    },
  );
  const dynamic = server.registerPrompt(
    'test_dynamic_prompt',
    { description: 'Listed only while test_trigger_prompt_change has toggled it on' },
    async () => ({ messages: [userText('This prompt comes and goes.')] }),
  );
  if (!state.dynamicPromptListed()) dynamic.disable();
  return dynamic;
}

/** Registers the resources and the template. An unknown URI is answered by
 * the SDK (resource not found). */
export function registerResources(server) {
  server.registerResource(
    'static-text',
    fx.STATIC_TEXT_URI,
    { description: 'A static text resource', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: fx.STATIC_TEXT }] }),
  );
  server.registerResource(
    'static-binary',
    fx.STATIC_BINARY_URI,
    { description: 'A static PNG (one red pixel)', mimeType: 'image/png' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: fx.RED_PIXEL_PNG }] }),
  );
  server.registerResource(
    'watched-resource',
    fx.WATCHED_URI,
    { description: 'Text that changes on test_trigger_resource_update; subscribable', mimeType: 'text/plain' },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'text/plain', text: `Watched resource, revision ${state.watchedRevision()}` }],
    }),
  );
  server.registerResource(
    'template-data',
    new ResourceTemplate(fx.TEMPLATE_URI, { list: undefined, complete: { id: prefixOf(['1', '2', '3', '123']) } }),
    { description: 'JSON that echoes the {id} it was read with', mimeType: 'application/json' },
    async (uri, { id }) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/json',
          text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
        },
      ],
    }),
  );
}
