# Reads `go test -bench` output and prints, for every benchmark with a
# "baseline" sub-benchmark (the last element of its name), each sibling's
# time, memory and allocations as a ratio of the baseline's (means over
# -count runs). Below 1 is better.
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	n = split(name, part, "/")
	if (n < 2) next
	# The last element is the side (baseline or a rival), the rest the group.
	group = part[1]
	for (i = 2; i < n; i++) group = group "/" part[i]
	sub_ = part[n]
	for (i = 3; i <= NF; i++) {
		if ($(i) == "ns/op") ns[group, sub_] += $(i - 1)
		if ($(i) == "B/op") by[group, sub_] += $(i - 1)
		if ($(i) == "allocs/op") al[group, sub_] += $(i - 1)
	}
	runs[group, sub_]++
	if (!((group, sub_) in seen)) {
		seen[group, sub_] = 1
		order[++count] = group SUBSEP sub_
	}
}
function ratio(a, b) { return b > 0 ? sprintf("%.3fx", a / b) : "-" }
END {
	for (k = 1; k <= count; k++) {
		split(order[k], gs, SUBSEP)
		g = gs[1]; s = gs[2]
		if (s == "baseline" || !((g, "baseline") in runs)) continue
		r = runs[g, s]; rb = runs[g, "baseline"]
		printf "%-28s %-16s time %-9s memory %-9s allocs %s   (%.0f ns/op vs %.0f)\n", g, s,
			ratio(ns[g, s] / r, ns[g, "baseline"] / rb),
			ratio(by[g, s] / r, by[g, "baseline"] / rb),
			ratio(al[g, s] / r, al[g, "baseline"] / rb),
			ns[g, s] / r, ns[g, "baseline"] / rb
	}
}
