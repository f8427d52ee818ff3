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
