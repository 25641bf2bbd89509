package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ufo-run/ufo/store"
)

type metrics struct {
	reg       *prometheus.Registry
	latency   *prometheus.HistogramVec
	claims    prometheus.Counter
	runEvents prometheus.Counter
	finished  *prometheus.CounterVec
}

// runsCollector reports runs by state from the database at scrape time, so
// every replica reports the same truth.
type runsCollector struct {
	store *store.Store
	desc  *prometheus.Desc
}

func (c runsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c runsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.RunsByStatus(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), status)
	}
}

func newMetrics(st *store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ufo_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route", "status"}),
		claims:    prometheus.NewCounter(prometheus.CounterOpts{Name: "ufo_run_claims_total", Help: "Runs claimed by rovers."}),
		runEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "ufo_run_events_total", Help: "Run events received from rovers."}),
		finished:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ufo_runs_finished_total", Help: "Runs reported finished, by outcome."}, []string{"status"}),
	}
	m.reg.MustRegister(m.latency, m.claims, m.runEvents, m.finished,
		runsCollector{store: st, desc: prometheus.NewDesc("ufo_runs", "Runs by state.", []string{"state"}, nil)},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// middleware records each request's latency under its route pattern (never
// the raw path, which would explode the label set).
func (m *metrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		m.latency.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Observe(time.Since(start).Seconds())
	})
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
