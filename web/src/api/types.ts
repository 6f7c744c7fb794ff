/** Shapes of the REST API's answers the partner screens use (see /api/openapi.json). */
export type Role = 'partner' | 'staff' | 'admin' | 'security' | string;

export interface User {
  readonly login: string;
  readonly role: Role;
  readonly org: string | null;
}

export interface Entry {
  readonly name: string;
  readonly type: 'file' | 'folder';
  readonly size: number;
  readonly sha256: string | null;
  readonly modified: string;
}

export interface ListPage {
  readonly path: string;
  readonly entries: readonly Entry[];
  readonly next?: string;
}

export interface MfaStatus {
  readonly login: string;
  readonly state: 'off' | 'pending' | 'active';
  readonly changedAt: string | null;
  readonly recoveryCodes: number;
}

export interface MfaEnrolment extends MfaStatus {
  readonly secret: string;
  readonly uri: string;
}

export interface SessionInfo {
  readonly id: string;
  readonly login: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
  readonly idleExpiresAt: number;
  readonly remoteAddr: string | null;
  readonly client: string | null;
  readonly current: boolean;
}

export interface PasskeyInfo {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly backedUp: boolean;
}

export interface Ceremony<O> {
  readonly ceremonyId: string;
  readonly options: O;
}
