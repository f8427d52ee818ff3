import type {ComponentType} from 'react';
import {loadBackupServerInfo} from '../actions/backup/status.js';
import {loadConnections} from '../db/connections.js';
import {loadCache} from '../db/cache.js';
import {loadStatements} from '../db/statements.js';
import {loadTables} from '../db/tables.js';
import {loadOverview} from '../db/overview.js';
import {screenIds, type ScreenId} from '../keymap.js';
import type {Loader, Loaders} from '../store/poller.js';
import type {ScreenData} from '../store/view-state.js';
import {ActivityScreen} from './activity.js';
import {ConnectionsScreen} from './connections.js';
import {CacheScreen} from './cache.js';
import {OverviewScreen} from './overview.js';
import {StatementsScreen} from './statements.js';
import {TablesScreen} from './tables.js';
import {BackupsScreen} from './backups.js';
import {ChecklistScreen, loadChecklist} from './checklist.js';
import {MigrationScreen, loadMigration} from './migration.js';
import {ReplicationScreen} from './replication.js';
import {PgBouncerScreen} from './pgbouncer.js';
import {loadReplication} from '../db/replication.js';

export type ScreenDef<K extends ScreenId> = {
	title: string;
	/** the visible screen's poll; screens without one show local state only */
	load?: Loader<ScreenData[K]>;
	Component: ComponentType;
};

export const screens: {[K in ScreenId]: ScreenDef<K>} = {
	overview: {title: 'Overview', load: loadOverview, Component: OverviewScreen},
	connections: {title: 'Connections', load: loadConnections, Component: ConnectionsScreen},
	statements: {title: 'Queries', load: loadStatements, Component: StatementsScreen},
	cache: {title: 'Cache', load: loadCache, Component: CacheScreen},
	tables: {title: 'Tables', load: loadTables, Component: TablesScreen},
	activity: {title: 'Activity', Component: ActivityScreen},
	migration: {title: 'Migration', load: loadMigration, Component: MigrationScreen},
	backups: {title: 'Backups', load: loadBackupServerInfo, Component: BackupsScreen},
	checklist: {title: 'Checklist', load: loadChecklist, Component: ChecklistScreen},
	replication: {title: 'Replication', load: loadReplication, Component: ReplicationScreen},
	pgbouncer: {title: 'pgBouncer', Component: PgBouncerScreen},
};

/** Number keys and Tab follow the keymap's order. */
export const screenOrder: readonly ScreenId[] = screenIds;

/** What the poller runs: each screen's load, by screen id. */
export function loaders(): Loaders {
	return screens;
}
