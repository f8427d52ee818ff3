import {CliError, ExitCode, codesOf, messageOf, shapeOf, type ErrorShape} from '../errors.js';
import {sanitize} from '../sanitize.js';
import {redactDsn, redactTarget, type Target} from './dsn.js';

// The cause text comes from the server or the network stack and may echo a
// connection string (or, in odd drivers, the password itself).
function scrub(text: string, password: string | undefined): string {
	let out = text;
	if (password) {
		for (const form of new Set([password, encodeURIComponent(password)])) {
			out = out.split(form).join('***');
		}
	}
	return redactDsn(out);
}

const certCodes = new Set([
	'SELF_SIGNED_CERT_IN_CHAIN',
	'DEPTH_ZERO_SELF_SIGNED_CERT',
	'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
	'UNABLE_TO_GET_ISSUER_CERT',
	'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
	'CERT_HAS_EXPIRED',
	'CERT_NOT_YET_VALID',
	'ERR_TLS_CERT_ALTNAME_INVALID',
]);

type Cause = {text: string; exitCode: number};

function causeOf(e: ErrorShape, target: Target): Cause {
	const codes = codesOf(e);
	const msg = messageOf(e);
	const has = (c: string) => codes.includes(c);

	if (has('ENOTFOUND')) {
		return {text: `unknown host "${target.host}" (DNS lookup found no such name)`, exitCode: ExitCode.unreachable};
	}
	if (has('EAI_AGAIN')) {
		return {text: `unknown host "${target.host}" (DNS lookup failed; check the name and your network)`, exitCode: ExitCode.unreachable};
	}
	if (has('ECONNREFUSED')) {
		return {text: 'connection refused (is the server running and listening on that port?)', exitCode: ExitCode.unreachable};
	}
	if (has('ENOENT') && target.host.startsWith('/')) {
		return {text: `no server socket in ${target.host} (is the server running locally?)`, exitCode: ExitCode.unreachable};
	}
	if (has('EHOSTUNREACH') || has('ENETUNREACH')) {
		return {text: 'timed out: host or network unreachable (check the host name, VPN and firewall)', exitCode: ExitCode.unreachable};
	}
	if (has('ETIMEDOUT') || /timeout expired|connection timeout/i.test(msg)) {
		return {text: `connection timed out (is the host right, and is a firewall dropping packets?)`, exitCode: ExitCode.unreachable};
	}

	switch (e.code) {
		case '28P01':
			return {text: `authentication failed (${msg})`, exitCode: ExitCode.auth};
		case '28000':
			if (/no pg_hba\.conf entry/i.test(msg)) {
				if (/no encryption/i.test(msg)) {
					return {
						text: `rejected by pg_hba.conf; the server may require SSL, try sslmode=require (${msg})`,
						exitCode: ExitCode.ssl,
					};
				}
				return {text: `authentication failed: no pg_hba.conf entry allows this host/user/database (${msg})`, exitCode: ExitCode.auth};
			}
			return {text: `authentication failed (${msg})`, exitCode: ExitCode.auth};
		case '3D000':
			// the server's message says exactly this; no need to repeat it
			return {text: `database "${target.database}" does not exist`, exitCode: ExitCode.noDatabase};
		case '53300':
			return {
				text: `server has no free connection slots; max_connections is reached and the remaining slots are reserved for superusers (${msg})`,
				exitCode: ExitCode.unreachable,
			};
		case '57P03':
			return {text: `server is starting up or shutting down, try again shortly (${msg})`, exitCode: ExitCode.unreachable};
		default:
			break;
	}

	if (/remaining connection slots are reserved|too many clients/i.test(msg)) {
		return {
			text: `server has no free connection slots; max_connections is reached and the remaining slots are reserved for superusers (${msg})`,
			exitCode: ExitCode.unreachable,
		};
	}
	if (/does not support SSL connections/i.test(msg)) {
		return {text: 'SSL not supported by server; use sslmode=disable', exitCode: ExitCode.ssl};
	}
	if (codes.some(c => certCodes.has(c)) || /certificate/i.test(msg)) {
		return {
			text: `SSL certificate verification failed (${msg}); ${target.sslrootcert ? `check that ${target.sslrootcert === 'system' ? "the system's CA store" : target.sslrootcert} (sslrootcert) holds the CA that signed the server's certificate` : "give the CA that signed the server's certificate as sslrootcert=FILE in the DSN, or PGSSLROOTCERT=FILE"}${target.sslmode === 'verify-full' ? ', and that the host name is one the certificate names' : ''}`,
			exitCode: ExitCode.ssl,
		};
	}
	// Our pgConfig password callback throws this (libpq's wording) when the
	// server asks for a password we do not have; pg's SCRAM code says the other.
	if (/no password supplied|client password must be a string/i.test(msg)) {
		return {
			text: `authentication failed: the server wants a password and none was given (use the URL, PGPASSWORD or ~/.pgpass)${target.passfileIgnored ? `; ${target.passfileIgnored}` : ''}`,
			exitCode: ExitCode.auth,
		};
	}
	return {text: msg, exitCode: ExitCode.unreachable};
}

export function classifyConnectError(err: unknown, target: Target): CliError {
	const cause = causeOf(shapeOf(err), target);
	const text = scrub(cause.text, target.password);
	// sanitize also folds newlines, so the whole message is one line.
	const line = sanitize(`cannot connect to ${redactTarget(target)}: ${text}`, 2000);
	return new CliError(line, cause.exitCode);
}
