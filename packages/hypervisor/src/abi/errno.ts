/**
 * Xen errno values. Xen defines them positive; hypercalls return them negated (`-XEN_EINVAL`).
 * @see xen/include/public/errno.h
 */

/** Xen errno `EPERM` (hypercalls return `-XEN_EPERM`). @see xen/include/public/errno.h */
export const XEN_EPERM = 1;
/** Xen errno `ENOENT` (hypercalls return `-XEN_ENOENT`). @see xen/include/public/errno.h */
export const XEN_ENOENT = 2;
/** Xen errno `ESRCH` (hypercalls return `-XEN_ESRCH`). @see xen/include/public/errno.h */
export const XEN_ESRCH = 3;
/** Xen errno `EINTR` (hypercalls return `-XEN_EINTR`). @see xen/include/public/errno.h */
export const XEN_EINTR = 4;
/** Xen errno `EIO` (hypercalls return `-XEN_EIO`). @see xen/include/public/errno.h */
export const XEN_EIO = 5;
/** Xen errno `ENXIO` (hypercalls return `-XEN_ENXIO`). @see xen/include/public/errno.h */
export const XEN_ENXIO = 6;
/** Xen errno `E2BIG` (hypercalls return `-XEN_E2BIG`). @see xen/include/public/errno.h */
export const XEN_E2BIG = 7;
/** Xen errno `ENOEXEC` (hypercalls return `-XEN_ENOEXEC`). @see xen/include/public/errno.h */
export const XEN_ENOEXEC = 8;
/** Xen errno `EBADF` (hypercalls return `-XEN_EBADF`). @see xen/include/public/errno.h */
export const XEN_EBADF = 9;
/** Xen errno `ECHILD` (hypercalls return `-XEN_ECHILD`). @see xen/include/public/errno.h */
export const XEN_ECHILD = 10;
/** Xen errno `EAGAIN` (hypercalls return `-XEN_EAGAIN`). @see xen/include/public/errno.h */
export const XEN_EAGAIN = 11;
/** Xen errno `EWOULDBLOCK` (hypercalls return `-XEN_EWOULDBLOCK`). @see xen/include/public/errno.h */
export const XEN_EWOULDBLOCK = 11;
/** Xen errno `ENOMEM` (hypercalls return `-XEN_ENOMEM`). @see xen/include/public/errno.h */
export const XEN_ENOMEM = 12;
/** Xen errno `EACCES` (hypercalls return `-XEN_EACCES`). @see xen/include/public/errno.h */
export const XEN_EACCES = 13;
/** Xen errno `EFAULT` (hypercalls return `-XEN_EFAULT`). @see xen/include/public/errno.h */
export const XEN_EFAULT = 14;
/** Xen errno `EBUSY` (hypercalls return `-XEN_EBUSY`). @see xen/include/public/errno.h */
export const XEN_EBUSY = 16;
/** Xen errno `EEXIST` (hypercalls return `-XEN_EEXIST`). @see xen/include/public/errno.h */
export const XEN_EEXIST = 17;
/** Xen errno `EXDEV` (hypercalls return `-XEN_EXDEV`). @see xen/include/public/errno.h */
export const XEN_EXDEV = 18;
/** Xen errno `ENODEV` (hypercalls return `-XEN_ENODEV`). @see xen/include/public/errno.h */
export const XEN_ENODEV = 19;
/** Xen errno `ENOTDIR` (hypercalls return `-XEN_ENOTDIR`). @see xen/include/public/errno.h */
export const XEN_ENOTDIR = 20;
/** Xen errno `EISDIR` (hypercalls return `-XEN_EISDIR`). @see xen/include/public/errno.h */
export const XEN_EISDIR = 21;
/** Xen errno `EINVAL` (hypercalls return `-XEN_EINVAL`). @see xen/include/public/errno.h */
export const XEN_EINVAL = 22;
/** Xen errno `ENFILE` (hypercalls return `-XEN_ENFILE`). @see xen/include/public/errno.h */
export const XEN_ENFILE = 23;
/** Xen errno `EMFILE` (hypercalls return `-XEN_EMFILE`). @see xen/include/public/errno.h */
export const XEN_EMFILE = 24;
/** Xen errno `ENOSPC` (hypercalls return `-XEN_ENOSPC`). @see xen/include/public/errno.h */
export const XEN_ENOSPC = 28;
/** Xen errno `EROFS` (hypercalls return `-XEN_EROFS`). @see xen/include/public/errno.h */
export const XEN_EROFS = 30;
/** Xen errno `EMLINK` (hypercalls return `-XEN_EMLINK`). @see xen/include/public/errno.h */
export const XEN_EMLINK = 31;
/** Xen errno `EDOM` (hypercalls return `-XEN_EDOM`). @see xen/include/public/errno.h */
export const XEN_EDOM = 33;
/** Xen errno `ERANGE` (hypercalls return `-XEN_ERANGE`). @see xen/include/public/errno.h */
export const XEN_ERANGE = 34;
/** Xen errno `EDEADLK` (hypercalls return `-XEN_EDEADLK`). @see xen/include/public/errno.h */
export const XEN_EDEADLK = 35;
/** Xen errno `ENAMETOOLONG` (hypercalls return `-XEN_ENAMETOOLONG`). @see xen/include/public/errno.h */
export const XEN_ENAMETOOLONG = 36;
/** Xen errno `ENOLCK` (hypercalls return `-XEN_ENOLCK`). @see xen/include/public/errno.h */
export const XEN_ENOLCK = 37;
/** Xen errno `ENOSYS` (hypercalls return `-XEN_ENOSYS`). @see xen/include/public/errno.h */
export const XEN_ENOSYS = 38;
/** Xen errno `ENOTEMPTY` (hypercalls return `-XEN_ENOTEMPTY`). @see xen/include/public/errno.h */
export const XEN_ENOTEMPTY = 39;
/** Xen errno `ENODATA` (hypercalls return `-XEN_ENODATA`). @see xen/include/public/errno.h */
export const XEN_ENODATA = 61;
/** Xen errno `ETIME` (hypercalls return `-XEN_ETIME`). @see xen/include/public/errno.h */
export const XEN_ETIME = 62;
/** Xen errno `EBADMSG` (hypercalls return `-XEN_EBADMSG`). @see xen/include/public/errno.h */
export const XEN_EBADMSG = 74;
/** Xen errno `EOVERFLOW` (hypercalls return `-XEN_EOVERFLOW`). @see xen/include/public/errno.h */
export const XEN_EOVERFLOW = 75;
/** Xen errno `EILSEQ` (hypercalls return `-XEN_EILSEQ`). @see xen/include/public/errno.h */
export const XEN_EILSEQ = 84;
/** Xen errno `ERESTART` (hypercalls return `-XEN_ERESTART`). @see xen/include/public/errno.h */
export const XEN_ERESTART = 85;
/** Xen errno `ENOTSOCK` (hypercalls return `-XEN_ENOTSOCK`). @see xen/include/public/errno.h */
export const XEN_ENOTSOCK = 88;
/** Xen errno `EMSGSIZE` (hypercalls return `-XEN_EMSGSIZE`). @see xen/include/public/errno.h */
export const XEN_EMSGSIZE = 90;
/** Xen errno `EOPNOTSUPP` (hypercalls return `-XEN_EOPNOTSUPP`). @see xen/include/public/errno.h */
export const XEN_EOPNOTSUPP = 95;
/** Xen errno `EADDRINUSE` (hypercalls return `-XEN_EADDRINUSE`). @see xen/include/public/errno.h */
export const XEN_EADDRINUSE = 98;
/** Xen errno `EADDRNOTAVAIL` (hypercalls return `-XEN_EADDRNOTAVAIL`). @see xen/include/public/errno.h */
export const XEN_EADDRNOTAVAIL = 99;
/** Xen errno `ENOBUFS` (hypercalls return `-XEN_ENOBUFS`). @see xen/include/public/errno.h */
export const XEN_ENOBUFS = 105;
/** Xen errno `EISCONN` (hypercalls return `-XEN_EISCONN`). @see xen/include/public/errno.h */
export const XEN_EISCONN = 106;
/** Xen errno `ENOTCONN` (hypercalls return `-XEN_ENOTCONN`). @see xen/include/public/errno.h */
export const XEN_ENOTCONN = 107;
/** Xen errno `ETIMEDOUT` (hypercalls return `-XEN_ETIMEDOUT`). @see xen/include/public/errno.h */
export const XEN_ETIMEDOUT = 110;
/** Xen errno `ECONNREFUSED` (hypercalls return `-XEN_ECONNREFUSED`). @see xen/include/public/errno.h */
export const XEN_ECONNREFUSED = 111;
