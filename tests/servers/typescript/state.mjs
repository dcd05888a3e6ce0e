// Per-process state shared by every server instance, and the change
// announcements that go with it.
//
// The SDK builds one McpServer per legacy session (HTTP), per connection
// (stdio) and per request (2026-07-28 over HTTP), so what the trigger tools
// change lives here, not in an instance:
// - `test_dynamic_tool` / `test_dynamic_prompt` listed or not;
// - the revision of test://watched-resource.
// Long-lived instances (legacy sessions, stdio connections) register here so
// a change reaches each of them the SDK's way (RegisteredTool.enable/disable
// sends notifications/tools/list_changed, sendResourceUpdated sends
// notifications/resources/updated); 2026-07-28 HTTP listeners get it through
// the createMcpHandler notifier (`handler.notify`), which feeds their
// subscriptions/listen streams.
//
// Imports: nothing from this directory.

const shared = {
  dynamicTool: false,
  dynamicPrompt: false,
  watchedRevision: 0,
};

/** Long-lived instances: { server, era, tool, prompt, subscriptions }. */
const live = new Set();
/** ServerNotifier objects (createMcpHandler's `notify`) of the HTTP endpoint. */
const notifiers = new Set();

export const dynamicToolListed = () => shared.dynamicTool;
export const dynamicPromptListed = () => shared.dynamicPrompt;
export const watchedRevision = () => shared.watchedRevision;

/** Registers a long-lived instance; returns the function that forgets it. */
export function track(entry) {
  live.add(entry);
  return () => live.delete(entry);
}

export function addNotifier(notifier) {
  notifiers.add(notifier);
}

/** Toggles `test_dynamic_tool`; returns whether it is now listed. */
export function toggleDynamicTool() {
  shared.dynamicTool = !shared.dynamicTool;
  for (const entry of live) setEnabled(entry.tool, shared.dynamicTool);
  for (const notifier of notifiers) notifier.toolsChanged();
  return shared.dynamicTool;
}

/** Toggles `test_dynamic_prompt`; returns whether it is now listed. */
export function toggleDynamicPrompt() {
  shared.dynamicPrompt = !shared.dynamicPrompt;
  for (const entry of live) setEnabled(entry.prompt, shared.dynamicPrompt);
  for (const notifier of notifiers) notifier.promptsChanged();
  return shared.dynamicPrompt;
}

/** Changes test://watched-resource and tells its subscribers; returns the new revision. */
export async function bumpWatched(uri) {
  shared.watchedRevision += 1;
  const sends = [];
  for (const entry of live) {
    // Legacy sessions subscribe with resources/subscribe; a 2026-07-28 stdio
    // connection's subscriptions/listen filter is applied by serveStdio.
    if (entry.era === 'modern' || entry.subscriptions.has(uri)) {
      sends.push(entry.server.server.sendResourceUpdated({ uri }).catch(() => {}));
    }
  }
  for (const notifier of notifiers) notifier.resourceUpdated(uri);
  await Promise.all(sends);
  return shared.watchedRevision;
}

function setEnabled(registered, enabled) {
  if (registered.enabled === enabled) return;
  // enable()/disable() make the SDK send the list_changed notification.
  try {
    if (enabled) registered.enable();
    else registered.disable();
  } catch (error) {
    console.error(`everything.mjs: toggling a registration failed: ${error}`);
  }
}
