import type {ComponentType} from 'react';
import {loadOverview} from '../db/overview.js';
import {screenIds, type ScreenId} from '../keymap.js';
import type {Loader} from '../store/poller.js';
import {OverviewScreen} from './overview.js';

export type ScreenDef = {
	title: string;
	/** the visible screen's poll; screens without one show local state only */
	load?: Loader<any>;
	Component: ComponentType;
};

export const screens: Record<ScreenId, ScreenDef> = {
	overview: {title: 'Overview', load: loadOverview, Component: OverviewScreen},
};

/** Number keys and Tab follow the keymap's order. */
export const screenOrder: readonly ScreenId[] = screenIds;

export function loaders(): Partial<Record<ScreenId, Loader>> {
	return Object.fromEntries(screenOrder.map(id => [id, screens[id].load]));
}
