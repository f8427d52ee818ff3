import pg from 'pg';
import type {AuditContext} from '../../audit.js';
import {redactDsn, type Target} from '../../db/dsn.js';
import {sanitize} from '../../sanitize.js';
import {openActionSession} from '../../db/action-session.js';
import {sessionEnded} from '../../db/connection-gone.js';
import {errorText} from '../../errors.js';

export const migrateApplicationName = 'intowork-db/migrate';

/** A refusal or failure the operator can act on; its message is the one line they see. */
export class MigrationError extends Error {
	override name = 'MigrationError';
}

/**
 * The action's own connection, never the monitor's: builds run for minutes,
 * so no statement_timeout, and a concurrent build must wait for old
 * transactions rather than give up, so no lock_timeout (steps that take
 * strong locks set their own, short one).
 */
export function openSession(target: Target): Promise<pg.Client> {
	return openActionSession(target, {applicationName: migrateApplicationName, lockTimeoutMs: 0});
}

export const closeSession = (client: pg.Client | undefined) => client?.end().catch(() => undefined);

/** pg sets processID from the server's BackendKeyData but does not declare it. */
export const backendPid = (client: pg.Client) => (client as pg.Client & {processID?: number | null}).processID ?? undefined;

// 'intomigr': one lock per database (advisory locks are per database), shared
// by apply, downgrade and the duplicate actions, so two consoles never interleave.
const lockKey = '7597692622213294450';

export async function takeMigrationLock(client: pg.Client): Promise<void> {
	const r = await client.query<{ok: boolean}>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [lockKey]);
	if (r.rows[0]?.ok) return;
	const holder = await client.query<{pid: number; application_name: string | null; usename: string | null}>(
		`SELECT l.pid, a.application_name, a.usename FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint AND l.objsubid = 1`,
		[lockKey],
	);
	const h = holder.rows[0];
	const who = h ? `pid ${h.pid}, ${sanitize(h.application_name, 60) || 'no application name'}, role ${sanitize(h.usename, 60)}` : 'a session that has just ended';
	throw new MigrationError(`another migration action is running against this database (${who}); wait for it or cancel it there`);
}

export async function releaseMigrationLock(client: pg.Client): Promise<void> {
	await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey]).catch(() => undefined);
}

export type ActionContext = {
	target: Target;
	/** where to record what was done; absent in code paths that only read */
	audit?: AuditContext;
	/** the backend pid of the action's own connection, once open (a console job registers it) */
	onPid?(pid: number | undefined): void;
	/** a cancel: the transaction is rolled back rather than committed */
	signal?: AbortSignal;
};

export const pgCode = (error: unknown): string | undefined => (error as {code?: unknown})?.code as string | undefined;

/** One display line for any error: the server's message and SQLSTATE, never a stack or a password. */
export function describeError(error: unknown): string {
	if (error instanceof MigrationError) return sanitize(error.message, 1000);
	const message = errorText(error);
	const code = pgCode(error);
	return sanitize(redactDsn(code && /^[0-9A-Z]{5}$/.test(code) ? `${message} (${code})` : message), 1000);
}

/** The server ended the backend (pg_terminate_backend, shutdown) or the connection dropped: the list the monitor's reconnect reads too. */
export const isConnectionLoss = sessionEnded;
