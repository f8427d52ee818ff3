import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {redactTarget, type Target} from './db/dsn.js';
import {readJsonLines, targetKey, targetStateDir, type TargetKey} from './state.js';

export type AuditEntry = {
	time: string;
	osUser: string;
	role: string;
	/** redacted target, user:***@host:port/db */
	target: string;
	/** e.g. cancel, terminate, refuse, migrate.apply, backup, restore-test, checklist.signoff */
	action: string;
	result: string;
	pids?: number[];
	query?: string;
	detail?: Record<string, unknown>;
};

export type AuditContext = {key: TargetKey; role: string; target: string};

export function auditContext(target: Target, role: string): AuditContext {
	return {key: targetKey(target), role, target: redactTarget(target)};
}

export function auditFile(key: TargetKey, env: NodeJS.ProcessEnv = process.env): string {
	return path.join(targetStateDir(key, env), 'audit.jsonl');
}

function osUser(): string {
	try {
		return os.userInfo().username;
	} catch {
		return String(process.getuid?.() ?? 'unknown');
	}
}

/** Append-only JSON lines; one write per entry so concurrent consoles do not interleave within a line. */
export function audit(ctx: AuditContext, entry: Omit<AuditEntry, 'time' | 'osUser' | 'role' | 'target'>, env: NodeJS.ProcessEnv = process.env): AuditEntry {
	const full: AuditEntry = {time: new Date().toISOString(), osUser: osUser(), role: ctx.role, target: ctx.target, ...entry};
	fs.appendFileSync(auditFile(ctx.key, env), `${JSON.stringify(full)}\n`, {mode: 0o600});
	return full;
}

/** The newest entries last. */
export function readAudit(key: TargetKey, limit = 500, env: NodeJS.ProcessEnv = process.env): AuditEntry[] {
	return readJsonLines<AuditEntry>(auditFile(key, env), limit);
}
