import pg from 'pg';
import {pgConfig, type Target} from '../../db/dsn.js';
import {openActionSession} from '../../db/action-session.js';

/** How long a backup waits for a table lock (pg_dump's and ours) before failing, rather than queueing behind a schema change for ever. */
export const lockWaitMs = 30_000;

/**
 * A connection of the backup's own, without the console's short timeouts:
 * exact counts read whole tables. A role-level statement_timeout or
 * idle_in_transaction_session_timeout would otherwise kill an exact count
 * of a big table, or the snapshot pg_dump is still reading from.
 */
export function connectFor(target: Target, applicationName: string, database: string = target.database): Promise<pg.Client> {
	return openActionSession(target, {applicationName, lockTimeoutMs: lockWaitMs, database});
}

/**
 * The server's system identifier (pg_control): the same for a cluster and
 * its physical replicas, different for every initdb. With the database name
 * it says whether a backup came from a database on this very server. Any
 * role may read it; undefined only if a future server revokes that.
 */
export async function readSystemIdentifier(client: pg.Client): Promise<string | undefined> {
	try {
		return (await client.query<{id: string}>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id;
	} catch {
		return undefined;
	}
}

/** Asks the server to cancel a statement of ours, e.g. a count waiting on a lock when the user cancels. */
export async function cancelBackend(target: Target, pid: number): Promise<void> {
	const client = new pg.Client(pgConfig(target, {applicationName: 'intowork-db/cancel', connectTimeoutMs: 5000}));
	client.on('error', () => undefined);
	try {
		await client.connect();
		await client.query('SELECT pg_cancel_backend($1)', [pid]);
	} catch {
		// the statement ends by itself when its connection closes
	} finally {
		await client.end().catch(() => undefined);
	}
}
