import {EventEmitter} from 'node:events';
import pg from 'pg';
import {pgConfig, type Target} from './dsn.js';
import {errorText} from '../errors.js';
import {mark} from '../start-trace.js';
import {serverAbsent} from './connection-gone.js';

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

export type ConnectionState = {
	status: ConnectionStatus;
	/** reconnect attempts since the connection was lost */
	attempt: number;
	/** when data on screen stopped being current (ms since epoch) */
	staleSince?: number;
	lastError?: string;
	/** the monitor's own backend, so screens can mark it */
	backendPid?: number;
	/** when the current connection was made: data read before it is from the previous one */
	liveSince?: number;
};

export type MonitorOptions = {
	applicationName?: string;
	connectTimeoutMs?: number;
	/** server-side cap on every monitoring statement */
	statementTimeoutMs?: number;
	lockTimeoutMs?: number;
	/** while the server is unreachable (down, restarting, starting up): the time between reconnect attempts; also the back-off's first step */
	minBackoffMs?: number;
	/** the back-off's cap, for a server that answers but refuses (authentication, no free slots, no such database) */
	maxBackoffMs?: number;
	/** the pgBouncer admin console: no startup options, no backend of its own to ask for */
	pgbouncer?: boolean;
};

export type Queryable = {
	query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
};

export class NotConnectedError extends Error {
	constructor() {
		super('not connected');
	}
}

const maxPrepared = 64;

/**
 * A semicolon with more after it, outside comments and string literals: a
 * semicolon in a comment once kept the Overview's statement from being
 * prepared, planned again on every refresh (two thirds of its server time).
 */
const severalStatements = (sql: string) => /;\s*\S/.test(sql.replace(/--[^\n]*/g, '').replace(/'(?:[^']|'')*'/g, "''"));
const preparedNames = new WeakMap<pg.Client, {names: Map<string, string>; next: number}>();
/** a connection lost sooner than this after it was made counts as a flap: several in a row back off */
const steadyMs = 1000;

/**
 * A failed connection attempt that says the server is not there yet: refused or reset at the
 * socket, the connect timeout, a postmaster shutting down or starting up (57P03), its sessions
 * being terminated. Retried every minBackoffMs, so the console is back as soon as the server is.
 * Anything else is a server that answered and refused us (password, pg_hba, no free slots, the
 * database gone): retrying fast changes nothing there, so that backs off.
 */
export function unreachable(error: unknown): boolean {
	return serverAbsent(error);
}

const defaults: Required<MonitorOptions> = {
	applicationName: 'intowork-db',
	connectTimeoutMs: 10_000,
	statementTimeoutMs: 5000,
	lockTimeoutMs: 1000,
	minBackoffMs: 500,
	maxBackoffMs: 10_000,
	pgbouncer: false,
};

/**
 * The console's one monitoring connection. It never throws the console
 * over: a lost server turns into a 'reconnecting' state with back-off for
 * as long as the console is open, and every statement is capped on the
 * server (statement_timeout, lock_timeout) and on the client (a stalled
 * network would otherwise wait forever on a socket).
 */
export class Monitor extends EventEmitter<{state: [ConnectionState]; reconnected: []}> implements Queryable {
	private client: pg.Client | undefined;
	private readonly options: Required<MonitorOptions>;
	private current: ConnectionState = {status: 'connecting', attempt: 0};
	private retryTimer: NodeJS.Timeout | undefined;
	private closed = false;
	/** attempts the server answered and refused, since the connection was lost: the back-off's exponent */
	private refusals = 0;
	/** connections in a row lost within steadyMs of being made: a server that drops every new session */
	private flaps = 0;
	/** set once prepared statements turned out not to survive between calls (a pooler in between) */
	private unprepared = false;

	constructor(
		readonly target: Target,
		options: MonitorOptions = {},
	) {
		super();
		this.options = {...defaults, ...options};
	}

	get state(): ConnectionState {
		return this.current;
	}

	private setState(patch: Partial<ConnectionState>) {
		this.current = {...this.current, ...patch};
		this.emit('state', this.current);
	}

	private newClient(): pg.Client {
		const {applicationName, connectTimeoutMs, statementTimeoutMs, lockTimeoutMs, pgbouncer} = this.options;
		// pgBouncer refuses a startup packet with `options`; its admin console has no timeouts to set
		const client = new pg.Client({
			...pgConfig(this.target, pgbouncer ? {applicationName, connectTimeoutMs} : {applicationName, connectTimeoutMs, statementTimeoutMs, lockTimeoutMs}),
			keepAlive: true,
			// Client-side bound a little above the server's, for when the server cannot even answer.
			query_timeout: statementTimeoutMs + 2000,
		});
		client.on('error', error => this.lost(client, error));
		client.on('end', () => this.lost(client, new Error('connection closed by the server')));
		return client;
	}

	/** First connection: errors go to the caller, who decides (the CLI exits with a clear line). */
	async connect(): Promise<void> {
		const client = this.newClient();
		try {
			await client.connect();
		} catch (error) {
			client.removeAllListeners('end');
			await client.end().catch(() => undefined);
			throw error;
		}
		mark('authenticated');
		await this.adopt(client);
	}

	/**
	 * For a second target (a replica, pgBouncer): a first connection that fails
	 * goes into the same back-off as a lost one instead of failing the console.
	 */
	async start(): Promise<void> {
		try {
			await this.connect();
		} catch (error) {
			if (this.closed) return;
			this.refusals = 0;
			this.setState({status: 'reconnecting', attempt: 0, staleSince: Date.now(), lastError: error instanceof Error ? error.message : String(error)});
			this.scheduleRetry(this.retryDelay(error));
		}
	}

	private async adopt(client: pg.Client) {
		// Generic plans from the first call (12+): a statement with parameters is otherwise planned afresh for
		// its first five calls, and the sampler, at one call every 5 s, would plan for the first half minute.
		const pid = this.options.pgbouncer
			? undefined
			: (
					await client.query<{pid: number}>(
						`SELECT pg_backend_pid() AS pid, CASE WHEN current_setting('server_version_num')::int >= 120000 THEN set_config('plan_cache_mode', 'force_generic_plan', false) END AS plans`,
					)
				).rows[0]?.pid;
		this.client = client;
		this.setState({status: 'live', attempt: 0, staleSince: undefined, lastError: undefined, backendPid: pid, liveSince: Date.now()});
	}

	private lost(client: pg.Client, error: Error) {
		if (this.closed || client !== this.client) return;
		this.client = undefined;
		client.removeAllListeners('end');
		client.end().catch(() => undefined);
		this.flaps = Date.now() - (this.current.liveSince ?? 0) < steadyMs ? this.flaps + 1 : 0;
		this.refusals = 0;
		this.setState({status: 'reconnecting', attempt: 0, staleSince: this.current.staleSince ?? Date.now(), lastError: error.message});
		// A terminated session on a server that is still up is back at once, not after a back-off; only a
		// server that keeps dropping the new sessions is retried less and less often.
		const {minBackoffMs, maxBackoffMs} = this.options;
		this.scheduleRetry(this.flaps <= 1 ? 0 : Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(this.flaps - 2, 10)));
	}

	/**
	 * Not an exponential back-off for a server that is simply not there: after a restart the next
	 * attempt would be up to the cap (seconds) after the server was back, the screen stale all that time.
	 */
	private retryDelay(error: unknown): number {
		const {minBackoffMs, maxBackoffMs} = this.options;
		if (unreachable(error)) return minBackoffMs;
		return Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(this.refusals++, 10));
	}

	private scheduleRetry(delay: number) {
		if (this.closed || this.retryTimer) return;
		this.retryTimer = setTimeout(() => {
			this.retryTimer = undefined;
			void this.retry();
		}, delay);
		this.retryTimer.unref?.();
	}

	private async retry() {
		if (this.closed) return;
		this.setState({attempt: this.current.attempt + 1});
		const client = this.newClient();
		try {
			await client.connect();
			if (this.closed) {
				await client.end();
				return;
			}
			await this.adopt(client);
			this.emit('reconnected');
		} catch (error) {
			client.removeAllListeners('end');
			await client.end().catch(() => undefined);
			this.setState({lastError: errorText(error)});
			this.scheduleRetry(this.retryDelay(error));
		}
	}

	async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
		const client = this.client;
		if (!client) throw new NotConnectedError();
		const name = this.unprepared ? undefined : this.statementName(client, sql);
		try {
			return await (name ? client.query<R>({name, text: sql, values: params}) : client.query<R>(sql, params));
		} catch (error) {
			// Behind a pooler in transaction mode a prepared statement lands on another server connection
			// ("does not exist" / "already exists"): from then on this monitor plans every statement again.
			const code = (error as {code?: string}).code;
			if (name && (code === '26000' || code === '42P05')) {
				this.unprepared = true;
				return this.query<R>(sql, params);
			}
			// A client-side timeout leaves the protocol mid-statement: the only safe way on is a new connection.
			if (error instanceof Error && /Query read timeout/i.test(error.message)) this.lost(client, error);
			// a table a statement reads changed shape (alembic_version recreated): the next call prepares it anew
			if (error instanceof Error && /cached plan must not change result type/.test(error.message)) preparedNames.get(client)?.names.delete(sql);
			throw error;
		}
	}

	/**
	 * Every refresh runs the same few catalog statements, and planning them
	 * cost more than running them (Tables and Cache spent over half their
	 * server time in the planner). Prepared once per connection, they are
	 * planned once. Bounded, so statements built with literals cannot grow the
	 * server's prepared set; a string of several statements cannot be prepared.
	 * pgBouncer's admin console speaks only the simple protocol: nothing is prepared there.
	 */
	private statementName(client: pg.Client, sql: string): string | undefined {
		if (this.options.pgbouncer) return undefined;
		let prepared = preparedNames.get(client);
		if (!prepared) preparedNames.set(client, (prepared = {names: new Map(), next: 0}));
		const known = prepared.names.get(sql);
		if (known) return known;
		if (prepared.next >= maxPrepared || severalStatements(sql)) return undefined;
		const name = `intowork_${prepared.next++}`;
		prepared.names.set(sql, name);
		return name;
	}

	async close(): Promise<void> {
		this.closed = true;
		if (this.retryTimer) clearTimeout(this.retryTimer);
		const client = this.client;
		this.client = undefined;
		this.setState({status: 'closed'});
		if (client) {
			client.removeAllListeners('end');
			await client.end().catch(() => undefined);
		}
	}
}
