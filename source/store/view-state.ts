import type {DuplicateCountResult} from '../actions/migration/duplicate-count.js';
import type {RunView} from '../actions/migration/run.js';
import type {BackupServerInfo} from '../actions/backup/status.js';
import type {AuditEntry} from '../audit.js';
import type {DbEvidence} from '../checklist/checklist.js';
import type {ItemId} from '../checklist/items.js';
import type {LoadTestProgress} from '../checklist/load-test.js';
import type {KillResults} from '../components/connections-kill.js';
import type {CacheData} from '../db/cache.js';
import type {Backend, ConnectionsData, SortId} from '../db/connections.js';
import type {Overview} from '../db/overview.js';
import type {StatementsData} from '../db/statements.js';
import type {TablesData} from '../db/tables.js';
import type {ReplicationData} from '../db/replication.js';
import type {BackupsUi} from '../screens/backups.js';
import type {MigrationData} from '../screens/migration.js';

/**
 * What each screen's poll stores, by screen id: the store, the poller's
 * loaders and ScreenFrame agree on it, so a screen reads its data without a cast.
 */
export type ScreenData = {
	overview: Overview;
	connections: ConnectionsData;
	statements: StatementsData;
	cache: CacheData;
	tables: TablesData;
	/** the audit log, read by the screen itself (it is a file on this machine, not a poll) */
	activity: AuditEntry[];
	migration: MigrationData;
	backups: BackupServerInfo;
	checklist: DbEvidence;
	replication: ReplicationData;
	/** shown from the fleet's samples: no poll of its own */
	pgbouncer: undefined;
};

/** A list's cursor as stored: placeSelection turns it into the visible selection. */
export type StoredSelection = {selectedKey?: string; selectedIndex?: number; offset?: number};

/** A scrolled text view's first line. */
type Scroll = {scroll?: number};

export type ConnectionsView = 'sessions' | 'groups' | 'locks';
export type ConnectionsUi = {
	view?: ConnectionsView;
	filter?: string;
	filterBefore?: string;
	filterEditing?: boolean;
	sort?: SortId;
	reverse?: boolean;
	tags?: string[];
	/** leaders whose parallel workers are shown */
	expanded?: string[];
	/** the session shown in full, as it was when opened (kept when it ends) */
	details?: Backend;
	detailsScroll?: number;
	/** the full text of the session's query, read on demand (pg_stat_activity truncates) */
	fullQuery?: {key: string; text?: string; error?: string};
	results?: KillResults;
	selection?: StoredSelection;
	lockSelection?: StoredSelection;
	groupSelection?: StoredSelection;
};

export type StatementsMode = 'interval' | 'cumulative';
export type StatementsSort = 'time' | 'mean' | 'calls';
export type StatementsUi = {
	mode?: StatementsMode;
	sort?: StatementsSort;
	filter?: string;
	filtering?: boolean;
	/** the statement shown in full, by queryid */
	detail?: string;
	detailScroll?: number;
	selection?: StoredSelection;
};

export type TablesView = 'tables' | 'indexes';
export type TablesUi = {
	view?: TablesView;
	tablesSort?: string;
	indexesSort?: string;
	tableSelection?: StoredSelection;
	indexSelection?: StoredSelection;
};

export type ActivityUi = Scroll & {
	/** the entry shown in full */
	open?: string;
	selection?: StoredSelection;
};

export type MigrationUi = {
	run?: RunView;
	/** the object whose duplicates are shown */
	drill?: string;
	drillSelection?: StoredSelection;
	selection?: StoredSelection;
	/** the last duplicate count (a job, not the poll), kept with its time until the next one is in */
	count?: DuplicateCountResult;
	/** the last count failed, for this inspection shape: not retried on its own for it (r does) */
	countError?: {text: string; shape: string};
	/** a count is running: what it counts now */
	counting?: string;
};

export type ChecklistUi = Scroll & {
	/** the item shown in full */
	details?: ItemId;
	loadTest?: LoadTestProgress;
	selection?: StoredSelection;
};

/**
 * Each screen's view state (selection, filter, sort, what is open), by
 * screen id: kept across screen switches and reconnects, typed per screen.
 */
export type ScreenUi = {
	/** the help overlay's scroll: help has no screen of its own */
	overview: Record<string, never>;
	connections: ConnectionsUi;
	statements: StatementsUi;
	cache: {selection?: StoredSelection};
	tables: TablesUi;
	activity: ActivityUi;
	migration: MigrationUi;
	backups: BackupsUi & {selection?: StoredSelection};
	checklist: ChecklistUi;
	replication: Record<string, never>;
	pgbouncer: Record<string, never>;
};

/** The fields of a screen's view state that hold a list's cursor. */
export type SelectionField<K extends keyof ScreenUi> = {[F in keyof ScreenUi[K]]-?: NonNullable<ScreenUi[K][F]> extends StoredSelection ? (StoredSelection extends NonNullable<ScreenUi[K][F]> ? F : never) : never}[keyof ScreenUi[K]];
