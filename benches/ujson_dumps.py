import ujson, time
d = {"temperature": 21.53, "humidity": 45.2}
print(ujson.dumps(d))
N = 200000
best = []
for run in range(7):
    t0 = time.ticks_us()
    for _ in range(N):
        ujson.dumps(d)
    t1 = time.ticks_us()
    best.append(time.ticks_diff(t1, t0) * 1000 / N)
best.sort()
print("ujson.dumps median ns/call:", best[len(best)//2])
t0 = time.ticks_us()
for _ in range(N):
    pass
t1 = time.ticks_us()
print("empty loop ns/iter:", time.ticks_diff(t1, t0) * 1000 / N)
