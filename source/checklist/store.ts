import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {audit, type AuditContext} from '../audit.js';
import {readJson, readJsonLines, targetStateDir, writeJson, type TargetKey} from '../state.js';
import type {ItemId, ItemResult, Verdict} from './items.js';

// What the checklist keeps per target database, next to the audit log and
// the backup catalog: sign-offs (a person vouching), the history of
// verdicts, and the last load test.

export type SignOff = {
	item: ItemId;
	/** who vouches; the OS user by default */
	by: string;
	note: string;
	at: string;
	/** the OS account that typed it, whatever name was given */
	osUser: string;
	/** item 9: the runbook, checked on every run that it still exists */
	path?: string;
	withdrawnAt?: string;
	withdrawnBy?: string;
};

export type HistoryEntry = {
	at: string;
	/** check: a headless run; console: a verdict changed on the checklist screen */
	source: 'check' | 'console';
	score: number;
	items: Array<{id: ItemId; verdict: Verdict}>;
};

const signOffsFile = (key: TargetKey, env: NodeJS.ProcessEnv) => path.join(targetStateDir(key, env), 'checklist-signoffs.json');
const historyFile = (key: TargetKey, env: NodeJS.ProcessEnv) => path.join(targetStateDir(key, env), 'checklist-history.jsonl');

export function osUserName(): string {
	try {
		return os.userInfo().username;
	} catch {
		return String(process.getuid?.() ?? 'unknown');
	}
}

export function readSignOffs(key: TargetKey, env: NodeJS.ProcessEnv = process.env): SignOff[] {
	return readJson<SignOff[]>(signOffsFile(key, env), []);
}

/** The sign-off in force for an item: the newest one not withdrawn. */
export function currentSignOff(records: readonly SignOff[], item: ItemId): SignOff | undefined {
	return records.filter(r => r.item === item && !r.withdrawnAt).sort((a, b) => b.at.localeCompare(a.at))[0];
}

export function signOff(ctx: AuditContext, entry: {item: ItemId; by: string; note: string; path?: string}, env: NodeJS.ProcessEnv = process.env): SignOff {
	const record: SignOff = {item: entry.item, by: entry.by, note: entry.note, at: new Date().toISOString(), osUser: osUserName(), ...(entry.path ? {path: path.resolve(entry.path)} : {})};
	writeJson(signOffsFile(ctx.key, env), [...readSignOffs(ctx.key, env), record]);
	audit(ctx, {action: 'checklist.signoff', result: 'ok', detail: {item: record.item, by: record.by, note: record.note, ...(record.path ? {path: record.path} : {})}}, env);
	return record;
}

/** Kept in the file with who withdrew it: a sign-off is a record, never silently erased. */
export function withdrawSignOff(ctx: AuditContext, item: ItemId, by: string, env: NodeJS.ProcessEnv = process.env): SignOff | undefined {
	const records = readSignOffs(ctx.key, env);
	const current = currentSignOff(records, item);
	if (!current) return undefined;
	const withdrawn = {...current, withdrawnAt: new Date().toISOString(), withdrawnBy: by};
	writeJson(signOffsFile(ctx.key, env), records.map(r => (r === current ? withdrawn : r)));
	audit(ctx, {action: 'checklist.withdraw', result: 'ok', detail: {item, by, signedBy: current.by, signedAt: current.at}}, env);
	return withdrawn;
}

export function readHistory(key: TargetKey, limit = 200, env: NodeJS.ProcessEnv = process.env): HistoryEntry[] {
	return readJsonLines<HistoryEntry>(historyFile(key, env), limit);
}

const sameVerdicts = (a: HistoryEntry['items'], b: HistoryEntry['items']) => a.length === b.length && a.every((x, i) => x.id === b[i]?.id && x.verdict === b[i]?.verdict);

/**
 * A headless check is always recorded; the console records only a change
 * of verdict, so the history reads as "item 1 turned green at 14:02"
 * rather than a line every refresh. Both go to the audit log.
 */
export function recordHistory(ctx: AuditContext, results: readonly ItemResult[], score: number, source: HistoryEntry['source'], env: NodeJS.ProcessEnv = process.env): HistoryEntry | undefined {
	const entry: HistoryEntry = {at: new Date().toISOString(), source, score, items: results.map(r => ({id: r.id, verdict: r.verdict}))};
	const last = readHistory(ctx.key, 1, env)[0];
	if (source === 'console' && last && sameVerdicts(last.items, entry.items)) return undefined;
	fs.appendFileSync(historyFile(ctx.key, env), `${JSON.stringify(entry)}\n`, {mode: 0o600});
	const failing = results.filter(r => r.required && r.verdict !== 'pass' && r.verdict !== 'signed-off').map(r => r.id);
	audit(
		ctx,
		{
			action: 'checklist.check',
			result: failing.length ? `score ${score}/100, failing ${failing.join(', ')}` : `score ${score}/100, every required item passes`,
			detail: {source, verdicts: Object.fromEntries(entry.items.map(i => [i.id, i.verdict]))},
		},
		env,
	);
	return entry;
}
