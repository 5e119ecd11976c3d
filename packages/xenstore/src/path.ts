/**
 * Path rules of xenstored: canonicalisation of domain-relative paths and
 * `is_valid_nodename()`.
 *
 * @see tools/xenstored/core.c (`canonicalize`, `is_valid_nodename`)
 * @module
 */
import { XENSTORE_REL_PATH_MAX } from './wire/constants.ts';

const VALID_CHARS = /^[A-Za-z0-9\-/_@]*$/;
const LOCAL_DOMAIN = /^\/local\/domain\/(\d{1,5})\//;

/** The home path of a domain, `/local/domain/<domid>`. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/**
 * Makes `path` absolute: paths starting with `/` or `@` are returned unchanged; others are
 * relative to `home` (the connection's domain path).
 */
export function canonicalize(path: string, home: string): string {
  if (path.length > 0 && (path.charCodeAt(0) === 0x2f || path.charCodeAt(0) === 0x40)) return path;
  return `${home}/${path}`;
}

/**
 * Xen's `is_valid_nodename()`: absolute, no trailing `/` (except the root), no `//`, only
 * `A-Z a-z 0-9 - / _ @`, and at most `maxLen` characters after a `/local/domain/<id>/` prefix.
 */
export function isValidNodename(path: string, maxLen: number = XENSTORE_REL_PATH_MAX): boolean {
  if (path.charCodeAt(0) !== 0x2f) return false;
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 0x2f) return false;
  if (path.includes('//')) return false;
  const m = LOCAL_DOMAIN.exec(path);
  const localOff = m ? m[0].length : 0;
  if (path.length > localOff + maxLen) return false;
  return VALID_CHARS.test(path);
}

/** The parent of an absolute path (`/a/b` → `/a`, `/a` → `/`). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The last component of an absolute path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Joins a parent path and a child name. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/**
 * xenstored's `is_child()`: whether `child` is `parent` or below it. Every path, including
 * the special `@…` ones, is below `/`.
 */
export function isChild(child: string, parent: string): boolean {
  if (parent === '/') return true;
  if (!child.startsWith(parent)) return false;
  return child.length === parent.length || child.charCodeAt(parent.length) === 0x2f;
}
