import {errorText} from '../errors.js';

/**
 * What says a session ended under us rather than a statement failing in it,
 * in one list for both moments that ask: the monitor deciding how soon to
 * reconnect (`unreachable` in monitor.ts), and an action deciding that its
 * backend is gone mid-way (`isConnectionLoss`, the migration's build).
 * SQLSTATEs: admin_shutdown (57P01, also pg_terminate_backend),
 * crash_shutdown (57P02), cannot_connect_now (57P03, starting up or shutting
 * down), and the connection_exception class node-pg or a proxy reports
 * (08000, 08003 connection_does_not_exist, 08006 connection_failure).
 */
const endedCodes = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006']);
/** The socket dropped: by its errno code, or named in the message pg wraps it in. */
const droppedSocket = /^E(CONNRESET|CONNABORTED|PIPE)$/;
const droppedText = /Connection terminated|connection ended|Client has encountered a connection error|ECONNRESET|ECONNABORTED|EPIPE/i;
/** Nobody answered at all: refused, no route, no such host or socket file, the connect timeout. */
const absentSocket = /^E(CONNREFUSED|TIMEDOUT|HOSTUNREACH|HOSTDOWN|NETUNREACH|NETDOWN|AI_AGAIN|NOTFOUND|NOENT)$/;
const absentText = /timeout expired|connection timeout/i;

const codeOf = (error: unknown) => (error as {code?: unknown} | undefined)?.code;

/** The server ended the session (terminated, shut down, crashed) or the connection dropped. */
export function sessionEnded(error: unknown): boolean {
	const code = codeOf(error);
	if (typeof code === 'string' && (endedCodes.has(code) || droppedSocket.test(code))) return true;
	return droppedText.test(errorText(error));
}

/** The server is not there (yet): a session of it ended, or nothing answered the connection attempt. */
export function serverAbsent(error: unknown): boolean {
	if (sessionEnded(error)) return true;
	const code = codeOf(error);
	if (typeof code === 'string' && absentSocket.test(code)) return true;
	return error instanceof Error && absentText.test(error.message);
}
