/**
 * The one gate for --read-only. The console binds no dangerous key
 * (keymap.activeCommands asks here) and the headless dispatcher runs no
 * changing command (commands/index.ts asks here): every path that could
 * change the server or the disk goes through this function, so a new key or
 * command cannot slip past by forgetting its own check.
 *
 * `change` says why the key or invocation changes something (undefined when
 * it only reads); the answer is the refusal to show, or undefined to go ahead.
 */
export function readOnlyRefusal(readOnly: boolean, change: string | undefined): string | undefined {
	return readOnly && change ? change : undefined;
}
