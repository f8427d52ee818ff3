import type {Loader} from '../store/poller.js';
import type {Queryable} from './monitor.js';

/** One standby as the primary sees it (pg_stat_replication). Bytes are how far each position trails the primary's current WAL. */
export type Standby = {
	pid: number;
	application: string;
	client: string | null;
	state: string | null;
	syncState: string | null;
	sentLsn: string | null;
	writeLsn: string | null;
	flushLsn: string | null;
	replayLsn: string | null;
	sentBytes: number | null;
	writeBytes: number | null;
	flushBytes: number | null;
	replayBytes: number | null;
	/** the standby's own reports: NULL once it has caught up and the primary is idle */
	writeLagMs: number | null;
	flushLagMs: number | null;
	replayLagMs: number | null;
};

export type Slot = {
	name: string;
	type: string;
	database: string | null;
	active: boolean;
	activePid: number | null;
	/** 13+: reserved, extended, unreserved, lost; undefined before 13 */
	walStatus?: string | null;
	/** WAL from restart_lsn to the current position: what the slot keeps on disk */
	retainedBytes: number | null;
	restartLsn: string | null;
};

export type ReplicationData = {
	at: number;
	inRecovery: boolean;
	currentLsn: string | null;
	/** WAL written per second since the previous refresh */
	walBytesPerSecond?: number;
	/** for the rate: the LSN as a byte count */
	lsnBytes: number | null;
	standbys: Standby[];
	slots: Slot[];
	/** 13+: max_slot_wal_keep_size (-1 = unlimited), wal_keep_size; undefined before */
	maxSlotWalKeepSize?: string | null;
	walKeep?: string | null;
};

type Row = {
	server_time: Date;
	in_recovery: boolean;
	current_lsn: string | null;
	lsn_bytes: string | null;
	standbys: Array<Record<string, unknown>> | null;
	slots: Array<Record<string, unknown>> | null;
	max_slot_wal_keep_size: string | null;
	wal_keep: string | null;
};

const lag = (col: string) => `'${col}_ms', extract(epoch FROM ${col}) * 1000`;

/** The primary's side, version-aware: lag columns are 10+, wal_status and max_slot_wal_keep_size 13+. */
export function replicationSql(major: number): string {
	const here = `CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END`;
	const behind = (col: string) => `'${col}_bytes', pg_wal_lsn_diff(${here}, ${col})`;
	return `
SELECT now() AS server_time, pg_is_in_recovery() AS in_recovery,
	(${here})::text AS current_lsn,
	pg_wal_lsn_diff(${here}, '0/0') AS lsn_bytes,
	(SELECT json_agg(json_build_object('pid', pid, 'application', application_name, 'client', host(client_addr),
		'state', state, 'sync_state', sync_state,
		'sent_lsn', sent_lsn::text, 'write_lsn', write_lsn::text, 'flush_lsn', flush_lsn::text, 'replay_lsn', replay_lsn::text,
		${behind('sent_lsn')}, ${behind('write_lsn')}, ${behind('flush_lsn')}, ${behind('replay_lsn')},
		${lag('write_lag')}, ${lag('flush_lag')}, ${lag('replay_lag')}) ORDER BY application_name, pid)
		FROM pg_stat_replication) AS standbys,
	(SELECT json_agg(json_build_object('name', slot_name, 'type', slot_type, 'database', database, 'active', active,
		'active_pid', active_pid, ${major >= 13 ? "'wal_status', wal_status," : ''}
		'restart_lsn', restart_lsn::text, 'retained', pg_wal_lsn_diff(${here}, restart_lsn)) ORDER BY slot_name)
		FROM pg_replication_slots) AS slots,
	${major >= 13 ? "current_setting('max_slot_wal_keep_size')" : 'NULL'} AS max_slot_wal_keep_size,
	${major >= 13 ? "current_setting('wal_keep_size')" : "current_setting('wal_keep_segments') || ' segments'"} AS wal_keep`;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

export const loadReplication: Loader<ReplicationData> = async (ctx, previous) => {
	const r = await ctx.db.query<Row>(replicationSql(ctx.caps.major));
	const row = r.rows[0]!;
	const at = new Date(row.server_time).getTime();
	const lsnBytes = num(row.lsn_bytes);
	let walBytesPerSecond: number | undefined;
	if (previous && previous.lsnBytes !== null && lsnBytes !== null && at > previous.at && lsnBytes >= previous.lsnBytes) {
		walBytesPerSecond = ((lsnBytes - previous.lsnBytes) * 1000) / (at - previous.at);
	}
	return {
		at,
		inRecovery: row.in_recovery,
		currentLsn: row.current_lsn,
		lsnBytes,
		walBytesPerSecond,
		standbys: (row.standbys ?? []).map(s => ({
			pid: Number(s.pid),
			application: String(s.application ?? ''),
			client: str(s.client),
			state: str(s.state),
			syncState: str(s.sync_state),
			sentLsn: str(s.sent_lsn),
			writeLsn: str(s.write_lsn),
			flushLsn: str(s.flush_lsn),
			replayLsn: str(s.replay_lsn),
			sentBytes: num(s.sent_lsn_bytes),
			writeBytes: num(s.write_lsn_bytes),
			flushBytes: num(s.flush_lsn_bytes),
			replayBytes: num(s.replay_lsn_bytes),
			writeLagMs: num(s.write_lag_ms),
			flushLagMs: num(s.flush_lag_ms),
			replayLagMs: num(s.replay_lag_ms),
		})),
		slots: (row.slots ?? []).map(s => ({
			name: String(s.name),
			type: String(s.type),
			database: str(s.database),
			active: Boolean(s.active),
			activePid: num(s.active_pid),
			...(ctx.caps.major >= 13 && {walStatus: str(s.wal_status)}),
			restartLsn: str(s.restart_lsn),
			retainedBytes: num(s.retained),
		})),
		...(ctx.caps.major >= 13 && {maxSlotWalKeepSize: row.max_slot_wal_keep_size}),
		walKeep: row.wal_keep,
	};
};

/** What to do about an inactive slot: it pins WAL until its consumer comes back or it is dropped. */
export function slotFix(slot: Slot, major: number): string {
	const drop = `SELECT pg_drop_replication_slot('${slot.name.replace(/'/g, "''")}');`;
	const cap = major >= 13 ? " or cap what any slot may keep: ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf();" : '';
	return `bring its ${slot.type === 'logical' ? 'subscriber' : 'standby'} back, or if it is gone for good: ${drop}${cap}`;
}

/** A standby as it sees itself. */
export type ReplicaSample = {
	at: number;
	inRecovery: boolean;
	receiveLsn: string | null;
	replayLsn: string | null;
	/** received but not yet replayed */
	replayBehindBytes: number | null;
	/** now() - pg_last_xact_replay_timestamp(): overstates lag when the primary has had nothing to commit */
	replayDelayMs: number | null;
	/** the lag the alert uses: 0 when everything received is replayed, else the replay delay (null before the first commit replayed) */
	lagMs: number | null;
	/** no commit replayed since the replica started (pg_last_xact_replay_timestamp() is NULL): no time lag, though the bytes behind are known */
	noCommitReplayed: boolean;
	paused: boolean;
	/** 14+: 'not paused', 'pause requested', 'paused' */
	pauseState?: string | null;
	hotStandbyFeedback: string;
	maxStandbyStreamingDelay: string;
	/** pg_stat_database_conflicts for this database: queries cancelled by replay */
	conflicts: {tablespace: number; lock: number; snapshot: number; bufferpin: number; deadlock: number};
	receiver: {status: string | null; sender: string | null; lastMessageAt: number | null} | null;
};

type ReplicaRow = {
	server_time: Date;
	in_recovery: boolean;
	receive_lsn: string | null;
	replay_lsn: string | null;
	behind: string | null;
	delay_ms: number | null;
	paused: boolean | null;
	pause_state: string | null;
	hsf: string;
	mssd: string;
	conflicts: Record<string, string | number> | null;
	receiver: {status: string | null; sender: string | null; last_msg: string | null} | null;
};

/** Version-aware: pg_get_wal_replay_pause_state() is 14+, pg_stat_wal_receiver.sender_host 11+. */
export function replicaSampleSql(major: number): string {
	const sender = major >= 11 ? "sender_host || ':' || sender_port" : 'NULL::text';
	return `
SELECT now() AS server_time, pg_is_in_recovery() AS in_recovery,
	pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn,
	pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS behind,
	extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000 AS delay_ms,
	CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused,
	${major >= 14 ? 'CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END' : 'NULL::text'} AS pause_state,
	current_setting('hot_standby_feedback') AS hsf, current_setting('max_standby_streaming_delay') AS mssd,
	(SELECT row_to_json(c) FROM (SELECT confl_tablespace AS tablespace, confl_lock AS lock, confl_snapshot AS snapshot,
		confl_bufferpin AS bufferpin, confl_deadlock AS deadlock FROM pg_stat_database_conflicts WHERE datname = current_database()) c) AS conflicts,
	(SELECT row_to_json(w) FROM (SELECT status, ${sender} AS sender, last_msg_receipt_time AS last_msg FROM pg_stat_wal_receiver) w) AS receiver`;
}

export async function sampleReplica(db: Queryable, major: number): Promise<ReplicaSample> {
	const r = await db.query<ReplicaRow>(replicaSampleSql(major));
	const row = r.rows[0]!;
	const behind = row.behind === null ? null : Number(row.behind);
	const delay = row.delay_ms === null ? null : Number(row.delay_ms);
	const c = row.conflicts ?? {};
	return {
		at: new Date(row.server_time).getTime(),
		inRecovery: row.in_recovery,
		receiveLsn: row.receive_lsn,
		replayLsn: row.replay_lsn,
		replayBehindBytes: behind,
		replayDelayMs: delay,
		lagMs: !row.in_recovery ? null : behind !== null && behind <= 0 ? 0 : delay,
		noCommitReplayed: row.in_recovery && delay === null,
		paused: row.paused === true,
		...(major >= 14 && {pauseState: row.pause_state}),
		hotStandbyFeedback: row.hsf,
		maxStandbyStreamingDelay: row.mssd,
		conflicts: {tablespace: Number(c.tablespace ?? 0), lock: Number(c.lock ?? 0), snapshot: Number(c.snapshot ?? 0), bufferpin: Number(c.bufferpin ?? 0), deadlock: Number(c.deadlock ?? 0)},
		receiver: row.receiver ? {status: row.receiver.status, sender: row.receiver.sender, lastMessageAt: row.receiver.last_msg ? new Date(row.receiver.last_msg).getTime() : null} : null,
	};
}
