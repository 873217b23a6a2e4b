// Go reference for bench/channel/run: ping-pong over two unbuffered
// channels between two goroutines; prints ns per round trip.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for i := 0; i < 1000; i++ {
		ping <- i
		<-pong
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	fmt.Printf("go_pingpong %.1f\n", float64(time.Since(t0).Nanoseconds())/float64(n))
}
