import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {Target} from './db/dsn.js';

/** Where the console keeps what must survive restarts: audit log, backup catalog, sign-offs. */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
	if (env.INTOWORK_DB_STATE) return env.INTOWORK_DB_STATE;
	return path.join(env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state'), 'intowork-db');
}

export type TargetKey = {host: string; port: number; database: string};

export function targetKey(target: Target): TargetKey {
	return {host: target.host, port: target.port, database: target.database};
}

/**
 * One folder per target database. The readable part names it for a human;
 * the hash keeps two servers with the same database name apart.
 */
export function targetSlug(t: TargetKey): string {
	const id = `${t.host}:${t.port}/${t.database}`;
	const readable = id.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
	const hash = crypto.createHash('sha256').update(id).digest('hex').slice(0, 8);
	return `${readable}-${hash}`;
}

export function targetStateDir(t: TargetKey, env: NodeJS.ProcessEnv = process.env): string {
	const dir = path.join(stateRoot(env), targetSlug(t));
	fs.mkdirSync(dir, {recursive: true, mode: 0o700});
	return dir;
}

/** Small JSON documents (catalogs, sign-offs) written atomically so a crash never leaves half a file. */
export function readJson<T>(file: string, fallback: T): T {
	try {
		return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
	} catch {
		return fallback;
	}
}

export function writeJson(file: string, value: unknown): void {
	const tmp = `${file}.tmp-${process.pid}`;
	fs.writeFileSync(tmp, `${JSON.stringify(value, null, '\t')}\n`, {mode: 0o600});
	fs.renameSync(tmp, file);
}

/** Append-only JSON lines, the newest last; a line torn by a crash is skipped rather than hiding the rest. */
export function readJsonLines<T>(file: string, limit: number): T[] {
	let text: string;
	try {
		text = fs.readFileSync(file, 'utf8');
	} catch {
		return [];
	}
	const entries: T[] = [];
	for (const line of text.split('\n')) {
		if (!line.trim()) continue;
		try {
			entries.push(JSON.parse(line) as T);
		} catch {
			// a partial last line
		}
	}
	return entries.slice(-limit);
}
