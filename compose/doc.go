// Package compose is netcompose's model of a lab, as pure values: the
// typed graph a topology file describes (Lab: nodes, links, ARP settings,
// queues, services, checks, hosts), its validation with errors at the
// file's lines, its lowering to flat Resources, and Diff, which turns
// desired and observed resources into a Plan (Terraform's + ~ - ±).
//
// Nothing here talks to the kernel: compose/kernel observes and changes
// it, compose/reconcile runs the loop, and both can be tested apart from
// this package, which is tested without root. The kinds of resource, their
// order and what generic code knows of each are one table (kinds.go).
package compose
