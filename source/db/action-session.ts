import pg from 'pg';
import {classifyConnectError} from './connect-error.js';
import {pgConfig, type Target} from './dsn.js';

/**
 * A connection of an action's own (a backup, a migration), never the
 * monitor's. The role's own timeouts (the app role's 30 s, say) must not cut
 * a build or a long transaction short, so they are set explicitly; an idle
 * connection's error (a server restart) must not crash the console, so it
 * is surfaced by the next query instead.
 */
export async function openActionSession(
	target: Target,
	options: {applicationName: string; lockTimeoutMs: number; database?: string; /** 0 (none) unless the action bounds its own statements */ statementTimeoutMs?: number},
): Promise<pg.Client> {
	const t = {...target, database: options.database ?? target.database};
	const config = pgConfig(t, {applicationName: options.applicationName, statementTimeoutMs: options.statementTimeoutMs ?? 0, lockTimeoutMs: options.lockTimeoutMs});
	const client = new pg.Client({...config, options: `${config.options} -c idle_in_transaction_session_timeout=0`, keepAlive: true});
	client.on('error', () => undefined);
	try {
		await client.connect();
	} catch (error) {
		await client.end().catch(() => undefined);
		throw classifyConnectError(error, t);
	}
	return client;
}
