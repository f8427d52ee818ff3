import {useServices, useAppState, useCommands} from '../context.js';
import type {ScreenId} from '../keymap.js';
import {setUi, type AppState} from '../store/store.js';
import type {ScreenUi, SelectionField, StoredSelection} from '../store/view-state.js';

export type Selection = {
	selectedKey?: string;
	offset: number;
	selectedIndex: number;
};

/**
 * Selection that follows the row's identity across refreshes: the same
 * backend stays selected when rows move, and stays on the same screen line
 * when it can, so a refresh never moves the row under the cursor. When the
 * row disappears the cursor stays at its index.
 */
export function placeSelection(keys: readonly string[], stored: StoredSelection, height: number): Selection {
	const n = keys.length;
	if (n === 0) return {offset: 0, selectedIndex: 0};
	let index = stored.selectedKey === undefined ? -1 : keys.indexOf(stored.selectedKey);
	if (index < 0) index = Math.min(Math.max(0, stored.selectedIndex ?? 0), n - 1);
	const line = (stored.selectedIndex ?? index) - (stored.offset ?? 0);
	const maxOffset = Math.max(0, n - height);
	let offset = Math.min(Math.max(0, index - Math.max(0, line)), maxOffset);
	if (index < offset) offset = index;
	if (index >= offset + height) offset = index - height + 1;
	return {selectedKey: keys[index], offset, selectedIndex: index};
}

export function moveSelection(keys: readonly string[], current: Selection, delta: number, height: number): Selection {
	const n = keys.length;
	if (n === 0) return current;
	const index = Math.min(Math.max(0, current.selectedIndex + delta), n - 1);
	let offset = current.offset;
	if (index < offset) offset = index;
	if (index >= offset + height) offset = index - height + 1;
	return {selectedKey: keys[index], selectedIndex: index, offset};
}

/** Selection for a list on a screen, stored per screen (and per list, with `name`) so it survives screen switches and reconnects. */
export function useSelection<K extends ScreenId>(screen: K, keys: readonly string[], height: number, options: {name?: SelectionField<K>; active?: boolean} = {}): Selection {
	const {store} = useServices();
	const field = options.name ?? 'selection';
	// SelectionField<K> names only fields typed StoredSelection; TypeScript cannot follow that through the generic index
	const read = (ui: AppState['ui']) => ((ui[screen] as Partial<Record<string, StoredSelection>> | undefined)?.[field] ?? {}) as StoredSelection;
	const stored = useAppState(s => read(s.ui));
	const sel = placeSelection(keys, stored, Math.max(1, height));
	// From the store, not this render: keys that arrive faster than frames (a burst over SSH) each count.
	const go = (delta: number) => {
		const latest = placeSelection(keys, read(store.getState().ui), Math.max(1, height));
		setUi(store, screen, {[field]: moveSelection(keys, latest, delta, Math.max(1, height))} as Partial<ScreenUi[K]>);
	};
	useCommands(
		{
			'cursor.up': () => go(-1),
			'cursor.down': () => go(1),
			'cursor.pageUp': () => go(-Math.max(1, height)),
			'cursor.pageDown': () => go(Math.max(1, height)),
			'cursor.first': () => go(-keys.length),
			'cursor.last': () => go(keys.length),
		},
		options.active ?? true,
	);
	return sel;
}
