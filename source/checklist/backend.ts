import fs from 'node:fs';
import path from 'node:path';
import {sanitize} from '../sanitize.js';

export type Finding = {
	/** relative to the backend folder */
	file: string;
	line: number;
	text: string;
	/** the value in milliseconds, when the line states one */
	ms?: number;
};

export type BackendScan = {
	dir: string;
	filesScanned: number;
	/** server-side: statement_timeout in server_settings, the URL's options, or a setting */
	statementTimeouts: Finding[];
	/** asyncpg's client-side per-query timeout, in seconds */
	commandTimeouts: Finding[];
	/** connect_timeout (libpq, psycopg) or asyncpg's connect_args timeout, in seconds */
	connectTimeouts: Finding[];
	/** files that configure the engine without any timeout: where the fix goes */
	engineFiles: string[];
	/** runbook files or folders found in the checkout */
	runbooks: string[];
};

// Dependencies, caches and build output hold other projects' settings; tests
// and Alembic migrations configure their own sessions, not the app's.
const skippedDirs = new Set(['.git', 'node_modules', '.venv', 'venv', 'env', '__pycache__', 'site-packages', 'dist', 'build', '.mypy_cache', '.pytest_cache', '.tox', 'tests', 'test', 'alembic', 'migrations']);
const configFile = /(\.py|\.env|\.ini|\.cfg|\.toml|\.ya?ml|\.conf)$|^\.env(\..+)?$/;
const maxFiles = 5000;
const maxFileBytes = 1_000_000;
const maxDepth = 8;

const number = String.raw`(\d+(?:\.\d+)?)`;
// "statement_timeout": "30s", statement_timeout=30000, -c statement_timeout%3D30000, STATEMENT_TIMEOUT_MS: int = 30000, SET statement_timeout TO 30000
const statementRe = new RegExp(String.raw`statement_timeout(\w*)["']?\s*(?::\s*\w+\s*)?(?:=|:|%3D|\s+to\s+)\s*["']?${number}\s*(us|ms|s|min|h)?\b`, 'i');
const commandRe = new RegExp(String.raw`command_timeout["']?\s*(?:=|:)\s*${number}`);
const connectRe = new RegExp(String.raw`connect_timeout(\w*)["']?\s*(?::\s*\w+\s*)?(?:=|:|%3D)\s*["']?${number}`, 'i');
// asyncpg's connect_args={"timeout": 10}; the quote before timeout keeps pool_timeout out
const asyncpgConnectRe = new RegExp(String.raw`["']timeout["']\s*:\s*${number}`);
const engineRe = /create_(?:async_)?engine\s*\(|async_sessionmaker|connect_args/;
const runbookName = /^(runbooks?|playbooks?)(\.md|\.rst|\.txt)?$|^runbook.*\.md$/i;

const unitMs: Record<string, number> = {us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000};

/**
 * A statement timeout without a unit: PostgreSQL reads a bare number as
 * milliseconds, but a settings field is as often in seconds. A name ending in
 * _ms or _s (or _seconds) decides; otherwise a value under 1000 is taken as
 * seconds, since neither a sub-second statement timeout nor one of hours
 * is what anyone configures.
 */
function statementMs(suffix: string, value: number, unit: string | undefined): number {
	if (unit) return value * unitMs[unit.toLowerCase()]!;
	const s = suffix.toLowerCase();
	if (/_ms$/.test(s)) return value;
	if (/_(s|sec|secs|seconds)$/.test(s)) return value * 1000;
	return value < 1000 ? value * 1000 : value;
}

function walk(dir: string, depth: number, out: string[]): void {
	if (depth > maxDepth || out.length >= maxFiles) return;
	let entries: fs.Dirent[];
	try {
		entries = fs.readdirSync(dir, {withFileTypes: true});
	} catch {
		return;
	}
	for (const entry of entries) {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) {
			if (!skippedDirs.has(entry.name)) walk(full, depth + 1, out);
		} else if (entry.isFile() && configFile.test(entry.name)) out.push(full);
		if (out.length >= maxFiles) return;
	}
}

function findRunbooks(dir: string): string[] {
	const found: string[] = [];
	for (const folder of [dir, path.join(dir, 'docs'), path.join(dir, '..', 'docs')]) {
		try {
			for (const name of fs.readdirSync(folder)) if (runbookName.test(name)) found.push(path.relative(dir, path.join(folder, name)) || name);
		} catch {
			// no such folder
		}
	}
	return found;
}

/** Reads the FastAPI backend's checkout for how it configures its database connections; never runs or imports it. */
export function scanBackend(dir: string): BackendScan {
	const files: string[] = [];
	walk(dir, 0, files);
	const scan: BackendScan = {dir, filesScanned: 0, statementTimeouts: [], commandTimeouts: [], connectTimeouts: [], engineFiles: [], runbooks: findRunbooks(dir)};
	for (const file of files) {
		let text: string;
		try {
			if (fs.statSync(file).size > maxFileBytes) continue;
			text = fs.readFileSync(file, 'utf8');
		} catch {
			continue;
		}
		scan.filesScanned++;
		const rel = path.relative(dir, file);
		const lines = text.split('\n');
		const hasConnectArgs = /connect_args/.test(text);
		let timeoutHere = false;
		lines.forEach((raw, i) => {
			const line = raw.trim();
			if (line.startsWith('#') || line.startsWith(';') || line.startsWith('//')) return;
			const at = (ms?: number): Finding => ({file: rel, line: i + 1, text: sanitize(line, 160), ms});
			const st = statementRe.exec(line);
			if (st) scan.statementTimeouts.push(at(statementMs(st[1]!, Number(st[2]), st[3])));
			const cmd = commandRe.exec(line);
			if (cmd) scan.commandTimeouts.push(at(Number(cmd[1]) * 1000));
			const conn = connectRe.exec(line);
			const asyncpgConn = hasConnectArgs ? asyncpgConnectRe.exec(line) : null;
			if (conn) scan.connectTimeouts.push(at(Number(conn[2]) * 1000));
			else if (asyncpgConn) scan.connectTimeouts.push(at(Number(asyncpgConn[1]) * 1000));
			timeoutHere ||= Boolean(st || cmd || conn || asyncpgConn);
		});
		if (!timeoutHere && engineRe.test(text)) scan.engineFiles.push(rel);
	}
	return scan;
}

/** What to add to the backend when it sets no timeouts: asyncpg's own names, as the backend uses SQLAlchemy async. */
export const backendFix = [
	'engine = create_async_engine(',
	'    settings.DATABASE_URL,',
	'    connect_args={',
	'        "timeout": 10,  # connect timeout, seconds',
	'        "command_timeout": 30,  # client-side cap per query, seconds',
	'        "server_settings": {"statement_timeout": "30s"},',
	'    },',
	')',
];
