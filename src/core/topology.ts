/**
 * Where the services' event loops run: both in one worker thread (shared) or in this
 * process's own loop (inline), L09 calling L01 in-process in either; or each in a worker
 * thread of its own (threads) or a child process of its own (`platform serve ...`,
 * processes), L09 reaching L01 over a socket. In core: `up` names the choices in its flags
 * without loading the services.
 */
export const TOPOLOGIES = ['shared', 'inline', 'threads', 'processes'] as const
export type Topology = (typeof TOPOLOGIES)[number]
