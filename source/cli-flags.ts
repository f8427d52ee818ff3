import type {AnyFlags} from 'meow';
import {parseDuration, parsePositiveInt} from './cli-args.js';
import {configFromFlags, type Config} from './config.js';
import {UsageError} from './errors.js';
import {fleetFlags, fleetHelp, readFleetFlags, type FleetSettings} from './alerts/settings.js';
import {defaultThresholds, maxIntervalMs, minIntervalMs, type Thresholds} from './store/store.js';

/** Flags every mode understands: the console and every subcommand. */
export const globalFlags = {
	dsn: {type: 'string'},
	demo: {type: 'boolean', default: false},
	demoReset: {type: 'boolean', default: false},
	demoPort: {type: 'string'},
	demoScale: {type: 'string'},
	readOnly: {type: 'boolean', default: false},
	interval: {type: 'string', default: '2s'},
	appPool: {type: 'string'},
	hangingAfter: {type: 'string'},
	idleTxAfter: {type: 'string'},
	slowMs: {type: 'string'},
	backendDir: {type: 'string'},
	appRole: {type: 'string'},
	runbook: {type: 'string'},
	pgBin: {type: 'string'},
	migrationPlan: {type: 'string'},
	alembicDir: {type: 'string'},
	help: {type: 'boolean', shortFlag: 'h'},
	version: {type: 'boolean'},
	...fleetFlags,
} satisfies AnyFlags;

export type GlobalFlags = {
	dsn?: string;
	demo: boolean;
	demoReset: boolean;
	demoPort?: number;
	demoScale?: number;
	readOnly: boolean;
	intervalMs: number;
	thresholds: Thresholds;
	/** where pg_dump, pg_restore and psql are, when not found by version */
	pgBin?: string;
	/** the migration plan and the checklist's settings, validated once */
	config: Config;
	/** replicas, pgBouncer, alert thresholds and notifications */
	fleet: FleetSettings;
};

export const globalHelp = `Options
  DSN, --dsn DSN       target: postgres:// or SQLAlchemy URL (postgresql+asyncpg://...) or
                       libpq keywords; else DATABASE_URL, PG* variables, ~/.pgpass
  --demo               run on an embedded PostgreSQL 15 with a seeded IntoWork database under load
  --demo-reset         rebuild the demo database from scratch
  --demo-port N        fix the demo server's port (default 54329, or a free one)
  --demo-scale X       demo data volume, 1 = 200k jobs and 1M applications (default 1)
  --read-only          a console that can change nothing: dangerous keys are not bound
  --interval D         refresh interval (default 2s; 500ms, 5s, ...)
  --app-pool N         the app's connection pool, pool_size + max_overflow (default 30)
  --hanging-after D    active longer than this is hanging (default 30s)
  --idle-tx-after D    idle in transaction longer than this is hanging (default 60s)
  --slow-ms N          highlight statements with a mean above N ms (default 100)
  --backend-dir DIR    the FastAPI backend's checkout: the checklist reads its database timeouts there
  --app-role NAME      the app's login role, whose statement_timeout the checklist checks (default intowork_app)
  --runbook PATH       the incident runbook the checklist's item 9 looks for
  --pg-bin DIR         pg_dump, pg_restore and psql from DIR (default: found for the server's version)
  --migration-plan F   the migration as a JSON plan file instead of the built-in h8c2d6e5f4g3
  --alembic-dir DIR    migrate by running alembic upgrade in DIR (checks and verification still run)
${fleetHelp}
  -h, --help           this help
  --version            the version`;

export function readGlobalFlags(input: string[], flags: Record<string, unknown>): GlobalFlags {
	const thresholds = {...defaultThresholds};
	if (flags.appPool !== undefined) thresholds.appPool = parsePositiveInt(flags.appPool, 'app-pool');
	if (flags.hangingAfter !== undefined) thresholds.hangingActiveMs = parseDuration(flags.hangingAfter, 'hanging-after');
	if (flags.idleTxAfter !== undefined) thresholds.hangingIdleTxMs = parseDuration(flags.idleTxAfter, 'idle-tx-after');
	if (flags.slowMs !== undefined) thresholds.slowMeanMs = parsePositiveInt(flags.slowMs, 'slow-ms');
	const positional = input[0];
	if (positional !== undefined && flags.dsn !== undefined) throw new UsageError('give the target once: either as an argument or with --dsn');
	const config = configFromFlags(flags);
	let demoScale: number | undefined;
	if (flags.demoScale !== undefined) {
		demoScale = Number(flags.demoScale);
		if (!(demoScale >= 0.001 && demoScale <= 10)) throw new UsageError(`--demo-scale: "${String(flags.demoScale)}" is not a number from 0.001 to 10`);
	}
	const intervalMs = parseDuration(flags.interval ?? '2s', 'interval');
	if (intervalMs < minIntervalMs || intervalMs > maxIntervalMs) throw new UsageError(`--interval: must be between ${minIntervalMs}ms and ${maxIntervalMs / 1000}s`);
	return {
		dsn: (flags.dsn as string | undefined) ?? positional,
		demo: Boolean(flags.demo) || Boolean(flags.demoReset),
		demoReset: Boolean(flags.demoReset),
		demoPort: flags.demoPort === undefined ? undefined : parsePositiveInt(flags.demoPort, 'demo-port'),
		demoScale,
		readOnly: Boolean(flags.readOnly),
		intervalMs,
		thresholds,
		config,
		...(flags.pgBin !== undefined && {pgBin: String(flags.pgBin)}),
		fleet: readFleetFlags(flags),
	};
}
