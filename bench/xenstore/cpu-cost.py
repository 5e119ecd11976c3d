#!/usr/bin/python3
"""Daemon CPU time per xenstore operation, for any number of daemon sockets side by side.

Usage: cpu-cost.py LABEL=SOCKET [LABEL=SOCKET ...]   (N=operations per sample, default 20000)

For each daemon (found through SO_PEERCRED on its socket) it runs write, read, directory,
pipelined reads, transactions and watch fires with one request in flight, and prints the
nanoseconds of CPU time (all threads, user and kernel, /proc/<pid>/task/*/schedstat) the
daemon used per operation, best of 3 samples. The client's own CPU time is not counted, so
the numbers hardly depend on the machine's load. Pin the client and the daemons to one CPU
(taskset) to compare like with like. Stdlib only; see packages/xenstore/DESIGN.md.
"""
import glob, os, socket, struct, sys

class C:
    def __init__(s, path):
        s.s=socket.socket(socket.AF_UNIX); s.s.connect(path); s.buf=b''; s.rid=0
    def recv(s):
        while True:
            if len(s.buf)>=16:
                t,r,tx,l=struct.unpack('<IIII',s.buf[:16])
                if len(s.buf)>=16+l:
                    p=s.buf[16:16+l]; s.buf=s.buf[16+l:]; return (t,r,tx,p)
            d=s.s.recv(65536)
            if not d: raise EOFError
            s.buf+=d

Z=b'\0'
def peer_pid(path):
    s=socket.socket(socket.AF_UNIX); s.connect(path)
    cred=s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))
    s.close(); return struct.unpack('3i',cred)[0]
def cpu_ns(pid):
    t=0
    for f in glob.glob(f'/proc/{pid}/task/*/schedstat'):
        try: t+=int(open(f).read().split()[0])
        except: pass
    return t
def raw(c, t, payload, tx=0):
    c.rid+=1
    c.s.sendall(struct.pack('<IIII',t,c.rid,tx,len(payload))+payload)
def recv(c): return c.recv()
def tests(path, N):
    a=C(path); b=C(path)
    pre=b'/cpucost/%d'%os.getpid()
    for i in range(100): raw(a,11,pre+b'/n%d'%i+Z+b'0123456789abcdef'); recv(a)
    for i in range(100): raw(a,11,pre+b'/d/c%d'%i+Z); recv(a)
    def write(n):
        for i in range(n): raw(a,11,pre+b'/n%d'%(i%100)+Z+b'0123456789abcdef'); recv(a)
    def read(n):
        for i in range(n): raw(a,2,pre+b'/n%d'%(i%100)+Z); recv(a)
    def directory(n):
        for i in range(n): raw(a,1,pre+b'/d'+Z); recv(a)
    def txn(n):
        for i in range(n):
            raw(a,6,Z); t=int(recv(a)[3][:-1]); raw(a,11,pre+b'/n1'+Z+b'x',t); recv(a); raw(a,7,b'T'+Z,t); recv(a)
    raw(b,4,pre+b'/w'+Z+b'tok'+Z); recv(b)
    while True:
        m=b.recv()
        if m[0]==15: break
    def watch(n):
        for i in range(n):
            raw(a,11,pre+b'/w/x'+Z+b'v'); recv(a); 
            m=b.recv()
    def pipelined(n):
        for j in range(n//32):
            for i in range(32): raw(a,2,pre+b'/n%d'%i+Z)
            for i in range(32): recv(a)
    return [('write',write),('read',read),('directory',directory),('read-pipelined',pipelined),('txn-write',txn),('watch-fire',watch)]
targets=[x.split('=') for x in sys.argv[1:]]
N=int(os.environ.get('N','20000'))
res={}
for label,path in targets:
    pid=peer_pid(path)
    for name,fn in tests(path,N):
        fn(2000)
        best=None
        for r in range(3):
            c0=cpu_ns(pid); fn(N); c1=cpu_ns(pid)
            v=(c1-c0)/N
            best=v if best is None or v<best else best
        res[(label,name)]=best
names=[n for n,_ in tests(targets[0][1],1)]
print('%-16s'%'ns of daemon CPU/op'+''.join('%12s'%l for l,_ in targets))
for n in names:
    print('%-16s'%n+''.join('%12.0f'%res[(l,n)] for l,_ in targets))
