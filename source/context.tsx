import React, {createContext, useContext, useLayoutEffect, useRef, type ReactNode} from 'react';
import {useStore} from 'zustand';
import {useShallow} from 'zustand/react/shallow';
import type {Config} from './config.js';
import type {Target} from './db/dsn.js';
import type {Queryable} from './db/monitor.js';
import type {JobRegistry} from './jobs/registry.js';
import type {AppState, AppStore} from './store/store.js';

/** What screens need besides state: the monitor for on-demand reads, the target for actions that open their own sessions. */
export type Services = {
	store: AppStore;
	db: Queryable;
	target: Target;
	/** the settings the command line chose, built once */
	config: Config;
	/** the console's long-running work: started by screens, owned here */
	jobs: JobRegistry;
	refreshNow(): void;
	quit(): void;
};

type Handler = {current: () => void};

const ServicesContext = createContext<Services | null>(null);
const HandlersContext = createContext<Map<string, Handler[]> | null>(null);

export function AppProvider({services, children}: {services: Services; children: ReactNode}) {
	const handlers = useRef(new Map<string, Handler[]>());
	return (
		<ServicesContext.Provider value={services}>
			<HandlersContext.Provider value={handlers.current}>{children}</HandlersContext.Provider>
		</ServicesContext.Provider>
	);
}

export function useServices(): Services {
	const services = useContext(ServicesContext);
	if (!services) throw new Error('useServices outside AppProvider');
	return services;
}

/** Read state through a selector; shallow equality keeps unrelated updates from re-rendering. */
export function useAppState<T>(selector: (s: AppState) => T): T {
	return useStore(useServices().store, useShallow(selector));
}

/**
 * Attach handlers to keymap command ids while the component is mounted. The
 * latest mounted handler of an id wins (a detail view over its list), and the
 * list's handler is back when the detail view closes. Registered as the
 * frame is committed (a layout effect), not after it: a key sent on seeing the
 * frame (the filter closed, so the list's keys are live again) could otherwise
 * arrive before a passive effect ran, and nothing would answer it.
 */
export function useCommands(handlers: Record<string, (() => void) | undefined>, active = true): void {
	const map = useContext(HandlersContext);
	const latest = useRef(handlers);
	latest.current = handlers;
	const ids = Object.keys(handlers)
		.filter(id => handlers[id])
		.sort()
		.join(',');
	useLayoutEffect(() => {
		if (!map || !active || !ids) return;
		const registered: Array<[string, Handler]> = ids.split(',').map(id => [id, {current: () => latest.current[id]?.()}]);
		for (const [id, h] of registered) map.set(id, [...(map.get(id) ?? []), h]);
		return () => {
			for (const [id, h] of registered) map.set(id, (map.get(id) ?? []).filter(x => x !== h));
		};
	}, [map, ids, active]);
}

export function useDispatch(): (id: string) => boolean {
	const map = useContext(HandlersContext);
	return (id: string) => {
		const stack = map?.get(id);
		const top = stack?.[stack.length - 1];
		if (!top) return false;
		top.current();
		return true;
	};
}
