import type {Queryable} from '../db/monitor.js';
import {quoteIdent} from '../db/sql.js';
import {formatDuration} from '../format.js';
import {backendFix, type BackendScan, type Finding} from './backend.js';
import type {ChecklistOptions, Verdict} from './items.js';

/** Where a value comes from, in PostgreSQL's own order of precedence at login. */
export type SettingLevel = 'role in database' | 'role' | 'database' | 'server';

export type TimeoutEvidence = {
	appRole: string;
	database: string;
	roleExists: boolean;
	/** the value the app role gets at login, from the most specific level that sets it */
	effective?: {level: SettingLevel; value: string; ms: number};
	/** false when this role may not read the server's configuration files */
	serverReadable: boolean;
};

type SettingRow = {role: string | null; database: string | null; config: string[]};

const settingsSql = `
SELECT current_database() AS database,
	EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role_exists,
	coalesce((SELECT json_agg(json_build_object('role', r.rolname, 'database', d.datname, 'config', s.setconfig))
		FROM pg_db_role_setting s
		LEFT JOIN pg_roles r ON r.oid = s.setrole
		LEFT JOIN pg_database d ON d.oid = s.setdatabase
		WHERE (s.setrole = 0 OR r.rolname = $1) AND (s.setdatabase = 0 OR d.datname = current_database())), '[]'::json) AS settings`;

// postgresql.conf and ALTER SYSTEM; pg_settings would only show this
// session's value, which the console's own startup options override.
const serverSql = `SELECT setting FROM pg_file_settings WHERE name = 'statement_timeout' AND applied`;

const pgUnits: Record<string, number> = {us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000};

/** A time setting as PostgreSQL reads it: a bare number is milliseconds. */
export function parsePgDuration(value: string): number | undefined {
	const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(value);
	if (!m) return undefined;
	return Number(m[1]) * pgUnits[m[2] ?? 'ms']!;
}

function statementTimeoutOf(config: readonly string[]): string | undefined {
	const entry = config.find(c => c.startsWith('statement_timeout='));
	return entry?.slice('statement_timeout='.length);
}

export async function readTimeouts(db: Queryable, appRole: string): Promise<TimeoutEvidence> {
	const r = await db.query<{database: string; role_exists: boolean; settings: SettingRow[]}>(settingsSql, [appRole]);
	const row = r.rows[0]!;
	const at = (level: SettingLevel, match: (s: SettingRow) => boolean) => {
		const value = row.settings.filter(match).map(s => statementTimeoutOf(s.config)).find(v => v !== undefined);
		return value === undefined ? undefined : {level, value, ms: parsePgDuration(value) ?? 0};
	};
	let effective =
		at('role in database', s => s.role !== null && s.database !== null) ?? at('role', s => s.role !== null && s.database === null) ?? at('database', s => s.role === null && s.database !== null);
	let serverReadable = true;
	if (!effective) {
		try {
			const server = await db.query<{setting: string}>(serverSql);
			const value = server.rows.at(-1)?.setting;
			if (value !== undefined) effective = {level: 'server', value, ms: parsePgDuration(value) ?? 0};
		} catch {
			serverReadable = false;
		}
	}
	return {appRole, database: row.database, roleExists: row.role_exists, effective, serverReadable};
}

const plainIdent = (name: string) => (/^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name));
const where = (f: Finding) => `${f.file}:${f.line}`;
const largest = (findings: readonly Finding[]) => findings.filter(f => f.ms !== undefined).sort((a, b) => b.ms! - a.ms!)[0];

export function judgeTimeouts(db: TimeoutEvidence, backend: BackendScan | undefined, options: ChecklistOptions): {verdict: Verdict; evidence: string[]; fix?: string[]} {
	const max = options.statementTimeoutMaxMs;
	const evidence: string[] = [];
	const fix: string[] = [];
	const role = plainIdent(db.appRole);

	if (!db.roleExists) evidence.push(`role ${db.appRole} does not exist on this server (the app's login role: --app-role NAME)`);
	else if (db.effective) evidence.push(`statement_timeout for ${db.appRole}: ${db.effective.value} (${db.effective.level} level)${db.effective.ms === 0 ? ', 0 means no limit' : ''}`);
	else evidence.push(`statement_timeout for ${db.appRole}: not set for the role or database${db.serverReadable ? ' or server (no limit)' : '; the server-wide value is not readable by this role'}`);

	// The backend's own settings win: a client's startup options override the role's.
	const backendStatement = backend ? largest(backend.statementTimeouts) : undefined;
	const command = backend ? largest(backend.commandTimeouts) : undefined;
	if (backendStatement) evidence.push(`backend ${where(backendStatement)}: statement_timeout ${formatDuration(backendStatement.ms)}`);
	if (command) evidence.push(`backend ${where(command)}: command_timeout ${formatDuration(command.ms)} (client-side)`);

	const serverMs = backendStatement?.ms ?? (db.roleExists ? db.effective?.ms : undefined);
	const caps = [serverMs, command?.ms].filter((ms): ms is number => ms !== undefined && ms > 0);
	const cap = caps.length ? Math.min(...caps) : undefined;
	const statementOk = cap !== undefined && cap <= max;
	if (cap !== undefined && !statementOk) evidence.push(`a query may run ${formatDuration(cap)}, more than ${formatDuration(max)}`);
	if (!statementOk) {
		const inDatabase = db.effective?.level === 'role in database' ? ` IN DATABASE ${plainIdent(db.database)}` : '';
		if (db.roleExists) fix.push(`ALTER ROLE ${role}${inDatabase} SET statement_timeout = '${max / 1000}s';  -- new connections only: recycle the app's pool`);
	}

	let connectOk = true;
	if (!backend) evidence.push('connect timeout: set in the backend, not readable from the server (give --backend-dir)');
	else {
		const connect = largest(backend.connectTimeouts);
		connectOk = connect !== undefined && connect.ms! > 0 && connect.ms! <= options.connectTimeoutMaxMs;
		if (connect) evidence.push(`backend ${where(connect)}: connect timeout ${formatDuration(connect.ms)}${connectOk ? '' : `, more than ${formatDuration(options.connectTimeoutMaxMs)}`}`);
		else evidence.push(`no connect timeout in the backend (${backend.filesScanned} configuration files read; asyncpg waits 60 s by default)`);
	}
	if (backend && (!connectOk || (!statementOk && !backendStatement))) {
		const file = backend.engineFiles[0];
		fix.push(file ? `# in ${file}:` : '# where the backend creates its engine:', ...backendFix);
	}
	return {verdict: statementOk && connectOk ? 'pass' : 'fail', evidence, fix: fix.length ? fix : undefined};
}
