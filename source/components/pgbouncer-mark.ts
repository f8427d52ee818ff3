import type {Column} from './table.js';
import type {Backend} from '../db/connections.js';
import type {BouncerSample} from '../db/pgbouncer.js';

/**
 * Sessions pgBouncer opened: their client address and port are a server
 * connection's local address in SHOW SERVERS. The client column says so.
 */
export function markBouncerSessions(columns: Column<Backend>[], servers: BouncerSample['servers'] | undefined): Column<Backend>[] {
	if (!servers?.length) return columns;
	const ports = new Set(servers.map(s => s.localPort));
	return columns.map(c =>
		c.key === 'client' ? {...c, value: (b: Backend) => (b.clientPort !== null && ports.has(b.clientPort) && b.clientAddr !== null && servers.some(s => s.localPort === b.clientPort && s.localAddr === b.clientAddr) ? 'pgbouncer' : c.value(b))} : c,
	);
}
