import {intoworkTables} from '../intowork.js';
import type {Queryable} from './monitor.js';
import {quoteIdent, quoteLiteral} from './sql.js';
import {errorText} from '../errors.js';

export type StatementsState = 'ok' | 'not-available' | 'not-preloaded' | 'not-created' | 'outdated';

export type Capabilities = {
	serverVersion: string;
	/** server_version_num, e.g. 150018 */
	versionNum: number;
	major: number;
	database: string;
	role: string;
	superuser: boolean;
	/** member of pg_monitor (or superuser): sees every session's query text and all statistics */
	pgMonitor: boolean;
	/** member of pg_signal_backend (or superuser): may cancel/terminate other roles' sessions */
	pgSignalBackend: boolean;
	inRecovery: boolean;
	startedAt: Date;
	maxConnections: number;
	/** slots only superusers (and, on 16+, pg_use_reserved_connections) may take */
	reservedConnections: number;
	statements: {
		state: StatementsState;
		/** installed extension version */
		version?: string;
		/** the version this server's files would install */
		availableVersion?: string;
		preloaded: boolean;
		/** the exact fix for an operator, when state is not ok */
		fix?: string;
	};
	intowork: {
		looksLikeIntowork: boolean;
		tablesFound: string[];
		tablesMissing: string[];
		/** null when alembic_version exists but is empty; undefined when there is no such table or it cannot be read */
		alembicVersion?: string | null;
		/** why alembic_version exists but could not be read (e.g. no SELECT privilege) */
		alembicUnreadable?: string;
	};
};

type Row = {
	server_version: string;
	version_num: string;
	database: string;
	role: string;
	superuser: boolean;
	pg_monitor: boolean;
	pg_signal_backend: boolean;
	in_recovery: boolean;
	started_at: Date;
	max_connections: string;
	reserved: string;
	preload: string | null;
	ext_version: string | null;
	ext_available: string | null;
	tables: string[] | null;
	has_alembic: boolean;
};

const detectSql = `
SELECT current_setting('server_version') AS server_version,
	current_setting('server_version_num') AS version_num,
	current_database() AS database,
	current_user AS role,
	r.rolsuper AS superuser,
	r.rolsuper OR pg_has_role(current_user, 'pg_monitor', 'USAGE') AS pg_monitor,
	r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS pg_signal_backend,
	pg_is_in_recovery() AS in_recovery,
	pg_postmaster_start_time() AS started_at,
	current_setting('max_connections') AS max_connections,
	(current_setting('superuser_reserved_connections')::int
		+ coalesce(current_setting('reserved_connections', true)::int, 0))::text AS reserved,
	-- superuser-only setting: hidden from pg_settings (NULL) for other roles rather than an error
	(SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload,
	(SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS ext_version,
	(SELECT default_version FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS ext_available,
	(SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY ($1::text[])) AS tables,
	to_regclass('public.alembic_version') IS NOT NULL AS has_alembic
FROM pg_roles r WHERE r.rolname = current_user`;

/** Without the privilege to read shared_preload_libraries, the view itself says whether the library is loaded. */
async function probePreloaded(db: Queryable, row: Row): Promise<boolean> {
	if (row.preload !== null)
		return row.preload
			.split(',')
			.map(s => s.trim().replace(/^"|"$/g, ''))
			.includes('pg_stat_statements');
	if (!row.ext_version) return true;
	try {
		await db.query('SELECT 1 FROM pg_stat_statements LIMIT 1');
		return true;
	} catch (error) {
		return !/shared_preload_libraries/.test(errorText(error));
	}
}

function statementsState(row: Row, preloaded: boolean): Capabilities['statements'] {
	const base = {version: row.ext_version ?? undefined, availableVersion: row.ext_available ?? undefined, preloaded};
	if (!row.ext_available) return {...base, state: 'not-available', fix: 'install the PostgreSQL contrib package for this server version (e.g. postgresql-contrib), then see below'};
	if (!preloaded) {
		// ALTER SYSTEM replaces the list: keep what is preloaded already, one literal per library
		const current = row.preload === null ? undefined : row.preload.split(',').map(l => l.trim().replace(/^"|"$/g, '')).filter(Boolean);
		const set = current
			? `ALTER SYSTEM SET shared_preload_libraries = ${[...current, 'pg_stat_statements'].map(quoteLiteral).join(', ')};`
			: 'add pg_stat_statements to shared_preload_libraries (keeping the libraries already there);';
		return {...base, state: 'not-preloaded', fix: `${set} then restart PostgreSQL (a reload is not enough)`};
	}
	if (!row.ext_version) return {...base, state: 'not-created', fix: 'CREATE EXTENSION pg_stat_statements;'};
	if (row.ext_version !== row.ext_available)
		return {...base, state: 'outdated', fix: `ALTER EXTENSION pg_stat_statements UPDATE; -- ${row.ext_version} -> ${row.ext_available}`};
	return {...base, state: 'ok'};
}

export async function detectCapabilities(db: Queryable): Promise<Capabilities> {
	const r = await db.query<Row>(detectSql, [intoworkTables]);
	const row = r.rows[0];
	if (!row) throw new Error('the current role is not in pg_roles');
	const versionNum = Number(row.version_num);
	const found = row.tables ?? [];
	let alembicVersion: string | null | undefined;
	let alembicUnreadable: string | undefined;
	if (row.has_alembic) {
		try {
			const a = await db.query<{version_num: string}>('SELECT version_num FROM public.alembic_version LIMIT 1');
			alembicVersion = a.rows[0]?.version_num ?? null;
		} catch (error) {
			alembicUnreadable = errorText(error);
		}
	}
	return {
		serverVersion: row.server_version,
		versionNum,
		major: Math.floor(versionNum / 10000),
		database: row.database,
		role: row.role,
		superuser: row.superuser,
		pgMonitor: row.pg_monitor,
		pgSignalBackend: row.pg_signal_backend,
		inRecovery: row.in_recovery,
		startedAt: row.started_at,
		maxConnections: Number(row.max_connections),
		reservedConnections: Number(row.reserved),
		statements: statementsState(row, await probePreloaded(db, row)),
		intowork: {
			// most of the tables, so a half-migrated or renamed deployment still counts
			looksLikeIntowork: found.length >= Math.ceil(intoworkTables.length * 0.6),
			tablesFound: found,
			tablesMissing: intoworkTables.filter(t => !found.includes(t)),
			alembicVersion,
			alembicUnreadable,
		},
	};
}

/** What an operator must run so this role sees everything the console shows. */
export function privilegeFixes(caps: Capabilities): string[] {
	const fixes: string[] = [];
	if (!caps.pgMonitor) fixes.push(`GRANT pg_monitor TO ${quoteIdent(caps.role)};  -- see every session's query and all statistics`);
	if (!caps.pgSignalBackend) fixes.push(`GRANT pg_signal_backend TO ${quoteIdent(caps.role)};  -- cancel or terminate other roles' queries`);
	return fixes;
}
