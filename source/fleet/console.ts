import {runOnAlert} from '../alerts/notify.js';
import type {AlertEvent} from '../alerts/rules.js';
import type {FleetSettings} from '../alerts/settings.js';
import type {Opened} from '../session.js';
import {setMessage, type AppStore} from '../store/store.js';
import {Fleet, openSecondaryTargets, type FleetState, type FleetTarget, type SamplerOptions} from './fleet.js';

/** The primary the console opened, the --replica and --pgbouncer targets, and the demo's own replica and pgBouncer. */
export function createFleet(opened: Opened, settings: FleetSettings, options: Omit<SamplerOptions, 'alerts'>): Fleet {
	const replicas = [...settings.replicas, ...(opened.demo?.replicaUrl ? [opened.demo.replicaUrl] : [])];
	const pgbouncer = settings.pgbouncer ?? opened.demo?.pgbouncerAdminUrl;
	const primary: FleetTarget = {name: 'primary', kind: 'primary', target: opened.target, redacted: opened.redacted, monitor: opened.monitor, caps: opened.caps};
	return new Fleet([primary, ...openSecondaryTargets({replicas, pgbouncer})], {...options, alerts: settings.alerts, paging: settings.onAlert !== undefined});
}

/** The sampler as the console's: state into the store, the bell and --on-alert at each start (and the command at each stop). */
export function attachFleet(fleet: Fleet, store: AppStore, settings: FleetSettings, bell: () => void): () => void {
	const onUpdate = (fleetState: FleetState) => store.setState({fleet: fleetState});
	const onAlert = (e: AlertEvent) => {
		if (e.event === 'start' && settings.bell) bell();
		if (settings.onAlert) runOnAlert(settings.onAlert, e, line => setMessage(store, line, 'error'));
	};
	fleet.on('update', onUpdate);
	fleet.on('alert', onAlert);
	store.setState({fleet: fleet.state()});
	return () => {
		fleet.off('update', onUpdate);
		fleet.off('alert', onAlert);
	};
}
